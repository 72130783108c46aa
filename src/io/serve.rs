//! Serving the prebuilt web page (web/dist) on loopback: `kairo serve-web`,
//! and the browser tests, which also take the page's reports.
//!
//! Static files only, with the MIME types a browser insists on
//! (`application/wasm` for streaming compilation, `text/javascript` for
//! modules); nothing is built at run time. `POST /report` hands the request
//! body to the report channel when one is given (the page's test mode
//! posts its results there) and is refused otherwise.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::Sender;

use crate::error::{Error, Result};

/// The files a built page must have, relative to its folder.
pub const PAGE_FILES: [&str; 4] = ["index.html", "main.js", "pkg/kairo_web.js", "pkg/kairo_web_bg.wasm"];

/// A loopback server of one folder.
pub struct WebServer {
    server: tiny_http::Server,
    dir: PathBuf,
    mounts: HashMap<String, PathBuf>,
    reports: Option<Sender<String>>,
}

/// The MIME type of a file, by its extension.
pub fn mime_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

impl WebServer {
    /// Binds `addr` (e.g. `127.0.0.1:8080`; port 0 picks a free one) to
    /// serve `dir`, which must hold a built page ([`PAGE_FILES`]): the
    /// error says how to build it.
    pub fn bind(dir: &Path, addr: &str) -> Result<WebServer> {
        for f in PAGE_FILES {
            if !dir.join(f).is_file() {
                return Err(Error::data(
                    &dir.join(f),
                    "missing: the web page is not built; run scripts/web-build.sh (it builds web/ for wasm32 and runs wasm-bindgen)",
                ));
            }
        }
        let server = tiny_http::Server::http(addr)
            .map_err(|e| Error::InvalidArgument(format!("cannot listen on {addr}: {e}")))?;
        Ok(WebServer { server, dir: dir.to_path_buf(), mounts: HashMap::new(), reports: None })
    }

    /// Also serves `file` at the URL path `url` (tests hand the page a
    /// checkpoint this way).
    pub fn mount(mut self, url: &str, file: &Path) -> WebServer {
        self.mounts.insert(url.to_string(), file.to_path_buf());
        self
    }

    /// Sends every `POST /report` body to `reports`.
    pub fn with_reports(mut self, reports: Sender<String>) -> WebServer {
        self.reports = Some(reports);
        self
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.server_addr().to_ip().expect("an IP listener")
    }

    /// Answers requests until the process ends (or the listener fails).
    pub fn run(self) {
        for request in self.server.incoming_requests() {
            self.answer(request);
        }
    }

    /// Runs the server on a thread of its own.
    pub fn spawn(self) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || self.run())
    }

    fn answer(&self, mut request: tiny_http::Request) {
        let url = request.url().split(['?', '#']).next().unwrap_or("/").to_string();
        let response = match (request.method(), url.as_str()) {
            (tiny_http::Method::Post, "/report") => {
                let mut body = String::new();
                let read = std::io::Read::read_to_string(request.as_reader(), &mut body);
                match (&self.reports, read) {
                    (Some(tx), Ok(_)) => {
                        let _ = tx.send(body);
                        tiny_http::Response::from_string("").with_status_code(204)
                    }
                    _ => tiny_http::Response::from_string("reports are not taken here").with_status_code(403),
                }
            }
            (tiny_http::Method::Get, _) | (tiny_http::Method::Head, _) => self.file(&url),
            _ => tiny_http::Response::from_string("method not allowed").with_status_code(405),
        };
        let _ = request.respond(response);
    }

    /// The file at URL path `url`: a mount, else under the folder (no
    /// path may leave it), `/` being index.html.
    fn file(&self, url: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let path = match self.mounts.get(url) {
            Some(p) => Some(p.clone()),
            None => inside(&self.dir, if url == "/" { "index.html" } else { url }),
        };
        match path.map(|p| (std::fs::read(&p), p)) {
            Some((Ok(bytes), p)) => {
                let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).expect("ASCII header");
                tiny_http::Response::from_data(bytes)
                    .with_header(header("Content-Type", mime_type(&p)))
                    .with_header(header("Cache-Control", "no-store"))
            }
            _ => tiny_http::Response::from_string(format!("{url}: not found")).with_status_code(404),
        }
    }
}

/// `dir` joined with the URL path, if the path stays inside `dir`.
fn inside(dir: &Path, url: &str) -> Option<PathBuf> {
    let rel = Path::new(url.trim_start_matches('/'));
    rel.components().all(|c| matches!(c, Component::Normal(_))).then(|| dir.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_folder() {
        let d = Path::new("/srv/page");
        assert_eq!(inside(d, "/pkg/kairo_web.js"), Some(d.join("pkg/kairo_web.js")));
        assert_eq!(inside(d, "/../etc/passwd"), None);
        assert_eq!(inside(d, "/pkg/../../x"), None);
        assert_eq!(inside(d, "//etc/passwd"), Some(d.join("etc/passwd")));
    }

    #[test]
    fn wasm_and_modules_get_the_types_browsers_require() {
        assert_eq!(mime_type(Path::new("a/kairo_web_bg.wasm")), "application/wasm");
        assert!(mime_type(Path::new("main.js")).starts_with("text/javascript"));
        assert!(mime_type(Path::new("index.html")).starts_with("text/html"));
    }
}
