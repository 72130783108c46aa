//! Sizes a user gives, checked before anything is allocated: every job's
//! validation estimates, from its settings, the bytes its task data takes
//! in host memory and the bytes of its biggest tensor on the device, and
//! [`fits`] compares them with what the host has available and with the
//! device's buffer limits. An error names the option and the largest value
//! that fits (the other options as given).

use crate::error::{Error, Result};
use crate::Context;

/// What a configuration needs: host bytes in all, and the bytes of its
/// biggest single device buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Need {
    pub host: u64,
    pub device: u64,
}

/// What there is to spend: available host memory and the largest buffer
/// the device binds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub host: u64,
    pub device: u64,
}

impl Budget {
    /// The host's available memory (`MemAvailable` of /proc/meminfo where
    /// present, else unbounded) and the device's smaller buffer limit of
    /// `max_storage_buffer_binding_size` and `max_buffer_size`.
    pub fn of(ctx: &Context) -> Budget {
        let l = ctx.limits();
        Budget { host: host_available(), device: l.max_storage_buffer_binding_size.min(l.max_buffer_size) }
    }
}

/// `MemAvailable` from /proc/meminfo in bytes, or `u64::MAX` where it cannot be read.
pub fn host_available() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kb| kb.saturating_mul(1024))
}

/// Bytes of an f32 array of these dimensions, saturating (estimates never overflow).
pub fn f32s(dims: &[usize]) -> u64 {
    dims.iter().fold(4u64, |acc, &d| acc.saturating_mul(d as u64))
}

/// `option` must be at least `min`: "--batch must be at least 1, got 0".
pub fn at_least(option: &str, value: usize, min: usize) -> Result<()> {
    if value < min {
        return Err(Error::InvalidArgument(format!("{option} must be at least {min}, got {value}")));
    }
    Ok(())
}

/// `option` must be at most `max`.
pub fn at_most(option: &str, value: usize, max: usize) -> Result<()> {
    if value > max {
        return Err(Error::InvalidArgument(format!("{option} must be at most {max}, got {value}")));
    }
    Ok(())
}

fn gb(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

/// One option's part in [`fits_all`]: its name, its value and what the
/// configuration needs when it takes value `v` (the others as given).
pub type Sized<'a> = (&'a str, usize, &'a dyn Fn(usize) -> Need);

/// Whether the configuration fits `budget`. When it does not, the error
/// names the first option (in the order given) that can be lowered to fit
/// with the others as they are, and the largest value that fits; when no
/// single option can, it says so and names them all.
pub fn fits_all(budget: &Budget, options: &[Sized]) -> Result<()> {
    let ok = |n: Need| n.host <= budget.host && n.device <= budget.device;
    let Some(&(_, first_value, first_need)) = options.first() else { return Ok(()) };
    let n = first_need(first_value);
    if ok(n) {
        return Ok(());
    }
    let why = if n.host > budget.host {
        format!("{} of host memory but {} are available", gb(n.host), gb(budget.host))
    } else {
        format!(
            "a {} device buffer but the device binds at most {} (max_storage_buffer_binding_size, max_buffer_size)",
            gb(n.device),
            gb(budget.device)
        )
    };
    for &(option, value, need) in options {
        let largest = largest_fitting(value, |v| ok(need(v)));
        if largest > 0 {
            return Err(Error::InvalidArgument(format!(
                "{option} {value} needs {why}: the largest {option} that fits is {largest}"
            )));
        }
    }
    let names: Vec<String> = options.iter().map(|(o, v, _)| format!("{o} {v}")).collect();
    Err(Error::InvalidArgument(format!("{} need {why}; lower several of them", names.join(", "))))
}

/// The largest v in 1..value with fit(v) (fit growing false with v), or 0.
fn largest_fitting(value: usize, fit: impl Fn(usize) -> bool) -> usize {
    if value <= 1 || !fit(1) {
        return 0;
    }
    let (mut lo, mut hi) = (1usize, value);
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if fit(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// [`fits_all`] for one option.
pub fn fits(budget: &Budget, option: &str, value: usize, need: impl Fn(usize) -> Need) -> Result<()> {
    fits_all(budget, &[(option, value, &need)])
}
