//! Compile-fail tests: located values are checked by the compiler, not at run time.
#![cfg(not(madsim))]

#[test]
fn located_values_are_checked_at_compile_time() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
