use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;

fn ctx() -> PlanContext {
    PlanContext {
        roles: vec!["Buyer".into(), "Seller".into()],
        sites: vec![
            SiteUse {
                label: Some("title".into()),
                file: "bookseller.rs".into(),
                line: 76,
                role: "Buyer".into(),
                event: "send",
                count: 1,
            },
            SiteUse {
                label: Some("title".into()),
                file: "bookseller.rs".into(),
                line: 76,
                role: "Seller".into(),
                event: "receive",
                count: 1,
            },
        ],
        probe: None,
    }
}

#[test]
fn every_action_round_trips_through_toml() {
    let text = r#"
[[fault]]
action = "crash"
at = { site = "title", role = "Seller", occurrence = 1 }
restart_after = "200ms"

[[fault]]
action = "crash"
at = { time = "1s", role = "Buyer" }
restart_after = "never"

[[fault]]
action = "panic"
at = { site = "bookseller.rs:76", role = "Seller" }
message = "boom \"x\""

[[fault]]
action = "delay"
at = { site = "title" }
by = "1.5s"

[[fault]]
action = "drop"
at = { site = "title", role = "Buyer" }

[[fault]]
action = "duplicate"
at = { site = "title" }

[[fault]]
action = "partition"
at = { time = "10ms" }
groups = [["Buyer"], ["Seller"]]
direction = "one-way"
duration = "300us"

[[fault]]
action = "pause"
at = { site = "title", role = "Seller" }
duration = "2s"
"#;
    let plan = FaultPlan::parse(text, "p.toml", &ctx()).unwrap();
    assert_eq!(plan.faults.len(), 8);
    assert_eq!(
        plan.faults[3].action,
        Action::Delay {
            by: Duration::from_millis(1500)
        }
    );
    let again = FaultPlan::parse(&plan.to_toml(), "again.toml", &ctx()).unwrap();
    assert_eq!(again, plan);
}

fn err(text: &str) -> PlanError {
    FaultPlan::parse(text, "bad.toml", &ctx()).unwrap_err()
}

#[test]
fn errors_carry_file_line_column_and_what_was_expected() {
    let e = err("[[fault]]\naction = \"crash\"\nat = { site = \"title\", role = \"Carol\" }\n");
    assert_eq!((e.line, e.column), (3, 31), "{e}");
    assert!(
        e.to_string()
            .starts_with("bad.toml:3:31: unknown role `Carol`; expected one of: Buyer, Seller"),
        "{e}"
    );
    let e = err("[[fault]]\naction = \"explode\"\nat = { site = \"title\" }\n");
    assert_eq!((e.line, e.column), (2, 10), "{e}");
    assert!(
        e.message
            .contains("unknown fault kind `explode`; expected one of: crash"),
        "{e}"
    );
    let e = err("[[fault]\naction = \"drop\"\n");
    assert_eq!(e.line, 1, "{e}");
    assert!(e.message.starts_with("invalid TOML"), "{e}");
    let e = err("[[fault]]\naction = \"drop\"\nat = { time = \"5ms\" }\n");
    assert!(e.message.contains("needs a site trigger"), "{e}");
    let e = err("[[fault]]\naction = \"drop\"\nat = { site = \"nosuch\" }\n");
    assert!(
        e.message.contains("unknown site `nosuch`") && e.message.contains("title"),
        "{e}"
    );
    let e = err(
        "[[fault]]\naction = \"drop\"\nat = { site = \"title\", role = \"Buyer\", occurrence = 2 }\n",
    );
    assert!(e.message.contains("occurrence 2 never happens"), "{e}");
    let e = err("[[fault]]\naction = \"delay\"\nat = { site = \"title\" }\nby = \"soon\"\n");
    assert!(e.message.contains("expected a duration like"), "{e}");
    let e = err(
        "[[fault]]\naction = \"pause\"\nat = { site = \"title\" }\nduration = \"1s\"\nspeed = 3\n",
    );
    assert!(e.message.contains("unknown key `speed`"), "{e}");
}

#[test]
fn site_references_read_labels_and_lines() {
    assert_eq!(SiteRef::parse("quote"), SiteRef::Label("quote".into()));
    assert_eq!(
        SiteRef::parse("scenarios/src/bookseller.rs:76"),
        SiteRef::Line {
            file: "bookseller.rs".into(),
            line: 76
        }
    );
    assert!(SiteRef::parse("bookseller.rs:76").matches(None, "bookseller.rs", 76));
}

fn use_(label: &str, role: &str, event: &'static str, count: u32) -> SiteUse {
    SiteUse {
        label: Some(label.into()),
        file: "bookseller.rs".into(),
        line: 90,
        role: role.into(),
        event,
        count,
    }
}

/// The bookseller context, with a probe modelling a rescue: a panic at `title` makes Seller
/// send `title-again` (and, once that is dropped, `quote-again`), and Buyer's `title` send
/// happen twice. It counts its runs.
fn rescuing_ctx() -> (PlanContext, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let probe = SiteProbe::new(move |plan: &FaultPlan| {
        counter.fetch_add(1, Ordering::Relaxed);
        let has = |kind: FaultKind, site: &str| {
            plan.faults.iter().any(|f| {
                f.action.kind() == kind
                    && matches!(&f.trigger, Trigger::Site { site: s, .. } if s.to_string() == site)
            })
        };
        let mut sites = ctx().sites;
        if has(FaultKind::Panic, "title") {
            sites.push(use_("title-again", "Seller", "send", 1));
            sites[0].count = 2;
        }
        if has(FaultKind::Drop, "title-again") {
            sites.push(use_("quote-again", "Seller", "send", 1));
        }
        if has(FaultKind::Crash, "title") {
            return Err("the simulation broke".into());
        }
        Ok(sites)
    });
    let mut ctx = ctx();
    ctx.probe = Some(probe);
    (ctx, runs)
}

const PANIC_AT_TITLE: &str =
    "[[fault]]\naction = \"panic\"\nat = { site = \"title\", role = \"Seller\" }\n";

#[test]
fn a_site_reached_only_after_the_plans_own_fault_is_accepted() {
    let (ctx, runs) = rescuing_ctx();
    let text = format!(
        "{PANIC_AT_TITLE}\n[[fault]]\naction = \"drop\"\nat = {{ site = \"title-again\", role = \"Seller\" }}\n"
    );
    let plan = FaultPlan::parse(&text, "p.toml", &ctx).unwrap();
    assert_eq!(plan.faults.len(), 2);
    assert_eq!(runs.load(Ordering::Relaxed), 1, "one run with the panic");
    // Without a probe, the same plan is checked against the fault-free sites only.
    let e = FaultPlan::parse(&text, "p.toml", &super::tests::ctx()).unwrap_err();
    assert!(e.message.contains("unknown site `title-again`"), "{e}");
    assert_eq!((e.line, e.column), (7, 15), "{e}");
}

#[test]
fn a_plan_valid_without_faults_runs_no_probe() {
    let (ctx, runs) = rescuing_ctx();
    FaultPlan::parse(PANIC_AT_TITLE, "p.toml", &ctx).unwrap();
    assert_eq!(runs.load(Ordering::Relaxed), 0);
}

#[test]
fn sites_reached_after_a_chain_of_faults_take_one_run_per_link() {
    let (ctx, runs) = rescuing_ctx();
    // Written last-first: the check does not depend on the plan's order.
    let text = format!(
        "[[fault]]\naction = \"delay\"\nat = {{ site = \"quote-again\" }}\nby = \"5ms\"\n\n\
         [[fault]]\naction = \"drop\"\nat = {{ site = \"title-again\" }}\n\n{PANIC_AT_TITLE}"
    );
    let plan = FaultPlan::parse(&text, "p.toml", &ctx).unwrap();
    assert_eq!(
        plan.faults[0].action.kind(),
        FaultKind::Delay,
        "plan order is kept"
    );
    assert_eq!(runs.load(Ordering::Relaxed), 2);
}

#[test]
fn an_occurrence_beyond_the_fault_free_count_is_accepted_after_a_retry() {
    let (ctx, _) = rescuing_ctx();
    let second = "[[fault]]\naction = \"duplicate\"\nat = { site = \"title\", role = \"Buyer\", occurrence = 2 }\n";
    let e = FaultPlan::parse(second, "p.toml", &ctx).unwrap_err();
    assert!(
        e.message
            .contains("occurrence 2 never happens: site `title` is used 1 time(s) by Buyer in a fault-free run"),
        "{e}"
    );
    let plan = FaultPlan::parse(&format!("{PANIC_AT_TITLE}\n{second}"), "p.toml", &ctx).unwrap();
    assert_eq!(plan.faults.len(), 2);
    let third = second.replace("occurrence = 2", "occurrence = 3");
    let e = FaultPlan::parse(&format!("{PANIC_AT_TITLE}\n{third}"), "p.toml", &ctx).unwrap_err();
    assert!(
        e.message.contains(
            "occurrence 3 never happens: site `title` is used 2 time(s) by Buyer in a fault-free run or in a run with this plan's other valid faults"
        ),
        "{e}"
    );
    assert_eq!((e.line, e.column), (7, 6), "{e}");
}

#[test]
fn a_site_no_run_reaches_is_rejected_with_its_location_and_the_reached_sites() {
    let (ctx, runs) = rescuing_ctx();
    let text =
        format!("{PANIC_AT_TITLE}\n[[fault]]\naction = \"drop\"\nat = {{ site = \"nowhere\" }}\n");
    let e = FaultPlan::parse(&text, "p.toml", &ctx).unwrap_err();
    assert_eq!((e.line, e.column), (7, 15), "{e}");
    assert!(
        e.to_string().starts_with(
            "p.toml:7:15: unknown site `nowhere`; expected a label or file.rs:LINE of this scenario (reached with or without this plan's other faults): title, title-again"
        ),
        "{e}"
    );
    assert_eq!(runs.load(Ordering::Relaxed), 1);
}

#[test]
fn a_probe_that_cannot_run_is_reported_at_the_pending_trigger() {
    let (ctx, _) = rescuing_ctx();
    let text = "[[fault]]\naction = \"crash\"\nat = { site = \"title\" }\n\n\
                [[fault]]\naction = \"drop\"\nat = { site = \"title-again\" }\n";
    let e = FaultPlan::parse(text, "p.toml", &ctx).unwrap_err();
    assert_eq!((e.line, e.column), (7, 6), "{e}");
    assert!(
        e.message.contains(
            "cannot check this trigger against a run with the plan's other 1 fault(s): the simulation broke"
        ),
        "{e}"
    );
}
