//! The files of a rehearsal: reading a repro back into its run, where repro files go, and the
//! cargo flags that select the running test binary (for the replay command).

use std::path::{Path, PathBuf};

use crate::plan::FaultPlan;
use crate::report::Report;
use crate::repro::Repro;
use crate::scenario::{Params, Scenario};
use crate::sim::Sim;

/// Replays repro file `path` of `scenario`: the run's report and the recorded trace hash.
pub fn replay(scenario: &Scenario, path: &Path) -> Result<(Report, Option<String>), String> {
    let (params, sim, recorded) = load_repro(scenario, path)?;
    let report = sim
        .run_scenario(scenario, &params)
        .map_err(|e| e.to_string())?;
    Ok((report, recorded))
}

/// Reads repro file `path` of `scenario` (its parameters, its plan checked against the
/// scenario's sites) and sets up its run; the error names the file and what was wrong.
pub fn load_repro(
    scenario: &Scenario,
    path: &Path,
) -> Result<(Params, Sim, Option<String>), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = path.display().to_string();
    let header = Repro::header(&text, &file).map_err(|e| e.to_string())?;
    if header.scenario != scenario.name() {
        return Err(format!(
            "{file} is a repro of scenario `{}`; expected `{}`",
            header.scenario,
            scenario.name()
        ));
    }
    let params = scenario
        .parse_params(header.params.iter().map(String::as_str))
        .map_err(|e| format!("{file}: {e}"))?;
    let program = scenario.program(&params).map_err(|e| e.to_string())?;
    let ctx = Sim::plan_context(&program).map_err(|e| e.to_string())?;
    let plan = FaultPlan::parse(&text, &file, &ctx).map_err(|e| e.to_string())?;
    let sim = Sim::new(header.seed)
        .net(header.net)
        .store(header.store)
        .plan(plan)
        .time_limit(header.time_limit);
    Ok((params, sim, header.trace_hash))
}

/// `rehearsal/` in the target directory the test binary runs from (`.../deps/NAME-HASH`),
/// else in the system's temporary folder.
pub(super) fn default_out_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .find(|a| a.file_name().is_some_and(|n| n == "deps"))
                .and_then(|deps| deps.parent()?.parent().map(Path::to_path_buf))
        })
        .unwrap_or_else(std::env::temp_dir)
        .join("rehearsal")
}

/// The package (`CARGO_PKG_NAME`, set by cargo when it runs a test) and the cargo flag that
/// selects the running test binary: `--test NAME` for an integration test, else `--lib`.
pub(super) fn test_target() -> (String, String) {
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "PACKAGE".into());
    let stem = std::env::current_exe()
        .ok()
        .and_then(|e| e.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let name = match stem.rsplit_once('-') {
        Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
        _ => stem,
    };
    let target = if name == package.replace('-', "_") {
        "--lib".to_string()
    } else {
        format!("--test {name}")
    };
    (package, target)
}
