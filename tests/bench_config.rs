//! `kairo bench` configurations that name nothing are errors listing what
//! exists (`bench::run` checks this before measuring anything). CPU only.

use kairo::bench::{BenchConfig, GROUPS};
use kairo::Error;

fn message(cfg: &BenchConfig) -> String {
    match cfg.validate() {
        Err(Error::InvalidArgument(m)) => m,
        other => panic!("expected an invalid-argument error, got {other:?}"),
    }
}

#[test]
fn every_listed_group_and_the_defaults_are_accepted() {
    BenchConfig::default().validate().unwrap();
    let all = BenchConfig { only: GROUPS.iter().map(|g| g.to_string()).collect(), sizes: Some(vec![16, 32]), ..Default::default() };
    all.validate().unwrap();
}

#[test]
fn an_unknown_group_is_rejected_with_the_valid_names() {
    let m = message(&BenchConfig { only: vec!["matmul".into(), "lstm".into()], ..Default::default() });
    assert!(m.contains("\"lstm\""), "{m}");
    for g in GROUPS {
        assert!(m.contains(g), "{g} missing from {m}");
    }
}

#[test]
fn sizes_that_name_no_matmul_are_rejected() {
    for sizes in [vec![], vec![0], vec![256, 0]] {
        let m = message(&BenchConfig { sizes: Some(sizes.clone()), ..Default::default() });
        assert!(m.contains("sizes"), "{sizes:?}: {m}");
    }
}
