//! Unit tests of the engine: the sandbox limits and budgets, compile errors, and script
//! threads.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ScriptEngine, ScriptLimits};
use crate::hl7::MessageBuf;
use crate::script::ScriptError;
use crate::script::threads::{ON_SCRIPT_THREAD, run_on_script_thread, spawn_script_thread};
use crate::script::{Filter, Transform, TransformOutcome};

fn msg() -> MessageBuf {
    MessageBuf::parse(b"MSH|^~\\&|LAB|HOSP|EHR|HOSP|20240101||ADT^A01|C1|P|2.5\rPID|1||123")
        .unwrap()
}

fn run(limits: ScriptLimits, source: &str) -> Result<TransformOutcome, ScriptError> {
    let engine = Arc::new(ScriptEngine::new(limits));
    Transform::from_source(&engine, "t.rhai", source)?.apply(&mut msg())
}

/// The message of a runtime error, or a panic saying what came instead.
fn runtime_message(result: Result<TransformOutcome, ScriptError>) -> (usize, usize, String) {
    match result {
        Err(ScriptError::Runtime {
            file,
            line,
            col,
            message,
        }) => {
            assert_eq!(file, "t.rhai");
            (line, col, message)
        }
        other => panic!("expected a runtime error, got {other:?}"),
    }
}

fn unlimited_ops(timeout: Duration) -> ScriptLimits {
    ScriptLimits {
        max_operations: u64::MAX,
        timeout,
        ..ScriptLimits::default()
    }
}

#[test]
fn an_endless_loop_is_stopped_by_the_operation_limit() {
    match run(ScriptLimits::default(), "loop {}") {
        Err(ScriptError::TooManyOperations { file, limit }) => {
            assert_eq!(file, "t.rhai");
            assert_eq!(limit, 1_000_000);
        }
        other => panic!("expected TooManyOperations, got {other:?}"),
    }
}

#[test]
fn a_loop_under_the_operation_limit_is_stopped_by_the_clock() {
    let budget = Duration::from_millis(200);
    let started = Instant::now();
    let result = run(unlimited_ops(budget), "let i = 0; loop { i += 1; }");
    let took = started.elapsed();
    match result {
        Err(ScriptError::Timeout { file, limit }) => {
            assert_eq!(file, "t.rhai");
            assert_eq!(limit, budget);
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert!(took >= budget, "stopped early, after {took:?}");
    assert!(took < budget * 2, "stopped late, after {took:?}");
}

#[test]
fn the_deadline_belongs_to_the_run_not_to_the_engine() {
    let engine = Arc::new(ScriptEngine::new(unlimited_ops(Duration::from_millis(100))));
    let quick = Transform::from_source(&engine, "quick.rhai", r#"msg.set("MSH-4", "X");"#).unwrap();
    let endless = Transform::from_source(&engine, "endless.rhai", "loop {}").unwrap();
    // Older than its budget: a deadline taken at build time would fail this run.
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(quick.apply(&mut msg()).unwrap(), TransformOutcome::Continue);
    assert!(matches!(
        endless.apply(&mut msg()),
        Err(ScriptError::Timeout { .. })
    ));
    // A timed-out run leaves nothing behind for the next one, on this thread or another.
    assert_eq!(quick.apply(&mut msg()).unwrap(), TransformOutcome::Continue);
    spawn_script_thread("t", move || {
        assert!(matches!(
            endless.apply(&mut msg()),
            Err(ScriptError::Timeout { .. })
        ));
        quick.apply(&mut msg()).unwrap()
    })
    .unwrap()
    .join()
    .map(|outcome| assert_eq!(outcome, TransformOutcome::Continue))
    .unwrap();
}

#[test]
fn a_script_cannot_catch_its_timeout() {
    // Errors from inside a closure arrive wrapped in a catchable error.
    let source = "loop { try { [1].map(|x| { loop {} }) } catch {} }";
    assert!(matches!(
        run(unlimited_ops(Duration::from_millis(100)), source),
        Err(ScriptError::Timeout { .. })
    ));
    let r = run(ScriptLimits::default(), source);
    assert!(
        matches!(r, Err(ScriptError::TooManyOperations { .. })),
        "{r:?}"
    );
}

#[test]
fn sleep_is_refused_not_waited_for() {
    let started = Instant::now();
    for source in [
        "sleep(5);",
        "sleep(5.0);",
        r#"Fn("sleep").call(5);"#,
        r#"call(Fn("sleep"), 5);"#,
    ] {
        let (line, _, message) = runtime_message(run(ScriptLimits::default(), source));
        assert_eq!(line, 1, "{source}");
        assert!(
            message.contains("`sleep` is not available"),
            "{source}: {message}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn deep_recursion_is_stopped() {
    let (line, col, message) = runtime_message(run(
        ScriptLimits::default(),
        "fn down(n) {\n  down(n + 1)\n}\ndown(0);",
    ));
    assert!(
        message.contains("nested deeper than the limit of 64"),
        "{message}"
    );
    // rhai reports a stack overflow at the outermost call.
    assert_eq!((line, col), (4, 1), "{message}");
}

#[test]
fn recursion_up_to_the_limit_fits_on_the_stack() {
    // 45 KB per level in a debug build: more than an ordinary 2 MiB thread holds.
    let engine = Arc::new(ScriptEngine::new(ScriptLimits::default()));
    let source =
        r#"fn depth(n) { if n == 0 { 0 } else { 1 + depth(n - 1) } } msg.set("PID-9", depth(62));"#;
    let mut m = msg();
    Transform::from_source(&engine, "t.rhai", source)
        .unwrap()
        .apply(&mut m)
        .unwrap();
    assert_eq!(m.get("PID-9").unwrap().text(), "62");
}

#[test]
fn deeply_nested_values_do_not_overflow_the_stack() {
    // Comparing and printing 1,500 nested maps takes more than 8 MiB of stack in a debug
    // build; on the 2 MiB of this test thread it would abort the whole process.
    let source = "let a = 1; for i in 0..1500 { a = #{ x: take(a) }; }
                  let b = [1]; for i in 0..1500 { b = [take(b)]; }
                  let same = a == a && b == b;
                  let text = a.to_string() + b.to_string();
                  msg.set(\"PID-9\", same);";
    let engine = Arc::new(ScriptEngine::new(unlimited_ops(Duration::from_secs(60))));
    let mut m = msg();
    let outcome = Transform::from_source(&engine, "t.rhai", source)
        .unwrap()
        .apply(&mut m)
        .unwrap();
    assert_eq!(outcome, TransformOutcome::Continue);
    assert_eq!(m.get("PID-9").unwrap().text(), "true");
}

#[test]
fn string_doubling_is_stopped() {
    let (_, _, message) = runtime_message(run(
        ScriptLimits::default(),
        r#"let s = "x"; loop { s += s; }"#,
    ));
    assert_eq!(message, "a string grew past the limit of 1048576 bytes");
}

#[test]
fn array_and_map_growth_is_stopped() {
    // `m = m + one` copies the map on every turn; on a loaded machine a debug build needs
    // more than the default second for that, and the clock is not what is tested here.
    let small = ScriptLimits {
        max_array_len: 1000,
        max_map_len: 1000,
        timeout: Duration::from_secs(20),
        ..ScriptLimits::default()
    };
    let (_, _, message) = runtime_message(run(small.clone(), "let a = []; loop { a.push(1); }"));
    assert_eq!(message, "an array grew past the limit of 1000 elements");
    for growth in ["m += one;", "m.mixin(one);", "m = m + one;"] {
        let source = format!(
            "let m = #{{}}; let i = 0; loop {{ let one = #{{}}; one[`k${{i}}`] = i; {growth} i += 1; }}"
        );
        let (_, _, message) = runtime_message(run(small.clone(), &source));
        assert_eq!(
            message, "an object map grew past the limit of 1000 entries",
            "{growth}"
        );
    }
    // rhai 1.27 checks only the value in `m[key] = value`, not the entries of `m`: such
    // growth is bounded by the operation and time budgets alone.
    let r = run(
        ScriptLimits {
            max_operations: 100_000,
            ..small
        },
        "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
    );
    assert!(
        matches!(r, Err(ScriptError::TooManyOperations { .. })),
        "{r:?}"
    );
}

#[test]
fn imports_are_refused_without_a_scripts_folder() {
    match run(
        ScriptLimits::default(),
        "let x = 1;\nimport \"/etc/passwd\" as secrets;",
    ) {
        Err(ScriptError::Compile { line, message, .. }) => {
            assert_eq!(line, 2);
            assert_eq!(message, "scripts cannot import modules");
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[test]
fn eval_is_refused_when_compiling() {
    match run(ScriptLimits::default(), "let x = 1;\nlet y = eval(\"x\");") {
        Err(ScriptError::Compile {
            line, col, message, ..
        }) => {
            assert_eq!((line, col), (2, 9));
            assert!(message.contains("eval"), "{message}");
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[test]
fn deep_expression_nesting_is_a_compile_error() {
    let source = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
    match run(ScriptLimits::default(), &source) {
        Err(ScriptError::Compile { message, .. }) => {
            assert!(message.contains("nested too deeply"), "{message}");
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[test]
fn zero_limits_are_raised_to_one() {
    let engine = ScriptEngine::new(ScriptLimits {
        max_operations: 0,
        max_string_bytes: 0,
        max_array_len: 0,
        max_map_len: 0,
        max_call_depth: 0,
        timeout: Duration::from_secs(1),
    });
    let limits = engine.limits();
    assert_eq!(
        [
            limits.max_operations as usize,
            limits.max_string_bytes,
            limits.max_array_len,
            limits.max_map_len,
            limits.max_call_depth
        ],
        [1; 5]
    );
    let engine = Arc::new(engine);
    let t = Transform::from_source(&engine, "t.rhai", "loop {}").unwrap();
    assert!(matches!(
        t.apply(&mut msg()),
        Err(ScriptError::TooManyOperations { limit: 1, .. })
    ));
}

#[test]
fn print_and_debug_do_not_reach_stdout_or_fail() {
    let source = r#"print(msg); debug(msg); print("done"); debug(msg.to_debug());"#;
    assert_eq!(
        run(ScriptLimits::default(), source).unwrap(),
        TransformOutcome::Continue
    );
}

#[test]
fn each_thread_gets_one_companion_script_thread() {
    let caller = std::thread::current().id();
    let (first, marked) =
        run_on_script_thread(|| (std::thread::current().id(), ON_SCRIPT_THREAD.get())).unwrap();
    let second = run_on_script_thread(|| std::thread::current().id()).unwrap();
    assert!(marked);
    assert_ne!(first, caller);
    assert_eq!(first, second);
    // On a script thread, calls run in place.
    let in_place = spawn_script_thread("t", || {
        let me = std::thread::current().id();
        run_on_script_thread(move || std::thread::current().id() == me).unwrap()
    })
    .unwrap()
    .join()
    .unwrap();
    assert!(in_place);
}

#[test]
fn a_panic_on_the_script_thread_reaches_the_caller_and_spares_the_companion() {
    let caught = std::panic::catch_unwind(|| run_on_script_thread(|| panic!("on purpose")));
    assert!(caught.is_err());
    assert_eq!(run_on_script_thread(|| 7).unwrap(), 7);
}

#[test]
fn engine_and_scripts_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<ScriptEngine>();
    shared::<Arc<ScriptEngine>>();
    shared::<Filter>();
    shared::<Transform>();
}
