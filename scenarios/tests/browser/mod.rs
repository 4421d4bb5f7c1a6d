//! Headless Chromium for the tests that look at pages: finding it, loading a page and
//! reading its DOM after its scripts ran, and screenshots.
//!
//! Without Chromium a test skips with a printed message, except under `CI=true`, where a
//! missing browser is a failure (`.ci/run` installs Debian's `chromium`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Whether this is CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (returns `None`, printing why) or, in CI, fails when `what` is missing.
pub fn required<T>(found: Option<T>, what: &str, install: &str) -> Option<T> {
    if found.is_none() {
        assert!(!in_ci(), "{what} is missing and CI=true: {install}");
        eprintln!("SKIPPED: {what} is missing ({install}); set CI=true to make this a failure");
    }
    found
}

/// The Chromium binary: `$REHEARSAL_CHROMIUM` (if it exists), else the first of `chromium`,
/// `chromium-browser`, `google-chrome` on the `PATH`.
pub fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("REHEARSAL_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Chromium, or `None` after printing why the test skips (a failure in CI).
pub fn browser() -> Option<PathBuf> {
    required(
        chromium(),
        "headless Chromium",
        "install it with `apt-get install -y chromium`, as .ci/run does",
    )
}

/// A fresh, empty directory under the system's temporary directory, its own even when
/// tests of one process ask for the same name at once.
pub fn fresh_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("rehearsal-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

fn headless(browser: &Path, profile: &Path) -> Command {
    let mut c = Command::new(browser);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        // Nothing may come from the network: every host name fails to resolve.
        "--host-resolver-rules=MAP * ~NOTFOUND",
    ]);
    c.arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn url(page: &Path) -> String {
    let abs = std::fs::canonicalize(page).expect("the page exists");
    format!("file://{}", abs.display())
}

/// Loads `page`, runs its scripts (and up to `budget_ms` of virtual time for timers and
/// promises) and returns the serialised DOM and how long Chromium took, start to exit.
pub fn dump_dom(browser: &Path, page: &Path, budget_ms: u64) -> (String, Duration) {
    let profile = fresh_dir("chromium-profile");
    let started = Instant::now();
    let out = headless(browser, &profile)
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .arg("--dump-dom")
        .arg(url(page))
        .output()
        .expect("chromium runs");
    let took = started.elapsed();
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), took)
}

/// Saves a screenshot of `page` at `width` x `height` to `png`.
pub fn screenshot(browser: &Path, page: &Path, png: &Path, width: u32, height: u32) {
    let profile = fresh_dir("chromium-shot");
    let out = headless(browser, &profile)
        .arg("--hide-scrollbars")
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(url(page))
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How often `needle` occurs in `haystack`.
pub fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The value of attribute `name` on the first tag that starts with `tag_start`.
pub fn attribute(haystack: &str, tag_start: &str, name: &str) -> Option<String> {
    let at = haystack.find(tag_start)?;
    let tag = &haystack[at..at + haystack[at..].find('>')?];
    let key = format!(" {name}=\"");
    let v = tag.find(&key)? + key.len();
    Some(tag[v..v + tag[v..].find('"')?].to_string())
}
