//! `--format mermaid` output parses with Mermaid itself: the `mermaid` package from npm
//! (installed by `.ci/run`), loaded from its local `dist/mermaid.min.js` in headless
//! Chromium, checks each diagram with `mermaid.parse`. A broken diagram is checked along
//! with them, so a validator that accepts everything fails the test.
#![cfg(madsim)]

mod browser;

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `mermaid.min.js`: `$REHEARSAL_MERMAID_JS`, else where `.ci/run` installs it.
fn mermaid_js() -> Option<PathBuf> {
    let path = match std::env::var("REHEARSAL_MERMAID_JS") {
        Ok(p) => PathBuf::from(p),
        Err(_) => PathBuf::from(std::env::var("HOME").ok()?)
            .join(".cache/rehearsal/npm/node_modules/mermaid/dist/mermaid.min.js"),
    };
    path.is_file().then_some(path)
}

fn mermaid(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rehearsal"))
        .current_dir(repo())
        .arg("run")
        .args(args)
        .args(["--format", "mermaid"])
        .output()
        .expect("the rehearsal binary runs");
    assert!(
        out.status.code() == Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Message lines: `pA->>pB: ...` and the like.
fn messages(diagram: &str) -> usize {
    diagram
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with('p') && ["->>", "-->>", "-x", "--x"].iter().any(|a| l.contains(a))
        })
        .count()
}

#[test]
fn mermaid_output_of_two_scenarios_parses_with_mermaid() {
    let diagrams = [
        (
            "alice-bob",
            mermaid(&[
                "alice-bob",
                "--seed",
                "7",
                "--plan",
                "fault-plans/alice-divides-by-zero.toml",
            ]),
        ),
        (
            "bookseller",
            mermaid(&[
                "bookseller",
                "--seed",
                "3",
                "--plan",
                "fault-plans/crash-seller-on-title.toml",
            ]),
        ),
        (
            "counter",
            mermaid(&[
                "counter",
                "--seed",
                "3",
                "--plan",
                "fault-plans/partition-one-way-at-time.toml",
            ]),
        ),
    ];
    // Structure, checked without Mermaid too.
    for (name, d) in &diagrams {
        assert!(d.starts_with("sequenceDiagram\n"), "{name}: {d}");
        assert!(messages(d) >= 4, "{name}: {d}");
        assert!(d.contains("box transparent node n0"), "{name}: {d}");
    }
    assert!(
        diagrams[0]
            .1
            .contains("Note over p0: fault: panic Alice at divide")
    );
    assert!(diagrams[0].1.contains("rescued"));
    assert!(diagrams[1].1.contains("node n1 killed"));
    assert!(diagrams[2].1.contains("partition healed"));

    let Some(chromium) = browser::browser() else {
        return;
    };
    let Some(js) = browser::required(
        mermaid_js(),
        "the npm package mermaid",
        "install it with `npm install --prefix ~/.cache/rehearsal/npm mermaid`, as .ci/run does",
    ) else {
        return;
    };
    let dir = browser::fresh_dir("mermaid");
    let broken = "sequenceDiagram\n    p0->>: no receiver\n    Note over : nobody\n";
    let mut page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><script src=\"file://{}\"></script></head><body>\n",
        js.display()
    );
    for (name, d) in diagrams
        .iter()
        .map(|(n, d)| (*n, d.as_str()))
        .chain([("broken", broken)])
    {
        page.push_str(&format!(
            "<script type=\"text/x-mermaid\" id=\"{name}\">{}</script>\n",
            d.replace("</", "<\\/")
        ));
    }
    page.push_str(
        "<pre id=\"result\">not run</pre><script>
mermaid.initialize({ startOnLoad: false });
(async () => {
  const out = [];
  for (const el of document.querySelectorAll('script[type=\"text/x-mermaid\"]')) {
    try {
      const r = await mermaid.parse(el.textContent);
      out.push(el.id + ': ok ' + (r && r.diagramType));
    } catch (e) {
      out.push(el.id + ': error ' + String(e.message || e).split('\\n')[0]);
    }
  }
  document.getElementById('result').textContent = out.join('\\n');
})();
</script></body></html>\n",
    );
    let html = dir.join("validate.html");
    std::fs::write(&html, page).unwrap();
    let (dom, took) = browser::dump_dom(&chromium, &html, 10_000);
    let start = dom.find("<pre id=\"result\">").expect("the result element") + 17;
    let result = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    println!("mermaid.parse in {took:?}:\n{result}");
    for (name, _) in &diagrams {
        assert!(
            result.contains(&format!("{name}: ok sequence")),
            "{name} does not parse:\n{result}"
        );
    }
    assert!(
        result.contains("broken: error"),
        "the validator accepted a broken diagram:\n{result}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
