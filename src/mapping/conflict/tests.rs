use serde_json::json;

use super::*;

const PULL: Direction = Direction::Pull;
const PUSH: Direction = Direction::Push;

fn versions() -> (Value, Value, Value) {
    let base = json!({"firstName": "Jane", "phone": "111", "email": "a@x.org", "updatedAt": "2024-01-01T00:00:00Z"});
    let local = json!({"firstName": "Janet", "phone": "111", "email": "b@x.org", "updatedAt": "2024-02-01T00:00:00Z"});
    let remote = json!({"firstName": "Jane", "phone": "222", "email": "c@x.org", "updatedAt": "2024-03-01T00:00:00Z"});
    (base, local, remote)
}

#[test]
fn whole_record_strategies() {
    let (base, local, remote) = versions();
    let r = |s, d| resolve(Some(&base), &local, &remote, s, d);
    assert_eq!(
        r(Strategy::SourceWins, PULL),
        Resolution::Resolved(remote.clone())
    );
    assert_eq!(
        r(Strategy::SourceWins, PUSH),
        Resolution::Resolved(local.clone())
    );
    assert_eq!(
        r(Strategy::DestWins, PULL),
        Resolution::Resolved(local.clone())
    );
    assert_eq!(
        r(Strategy::NewestWins { tie: Tie::Manual }, PUSH),
        Resolution::Resolved(remote.clone())
    );
    let Resolution::Conflict { fields, .. } = r(Strategy::Manual, PULL) else {
        panic!("manual must park");
    };
    assert_eq!(fields, ["email", "firstName", "phone", "updatedAt"]);
}

#[test]
fn newest_wins_reads_fhir_meta_and_applies_the_tie_rule() {
    let a = json!({"v": 1, "meta": {"lastUpdated": "2024-01-01T10:00:00+02:00"}});
    let b = json!({"v": 2, "meta": {"lastUpdated": "2024-01-01T08:30:00Z"}});
    let s = |tie| Strategy::NewestWins { tie };
    assert_eq!(
        resolve(None, &a, &b, s(Tie::Manual), PULL),
        Resolution::Resolved(b.clone())
    );
    let same = json!({"v": 3, "meta": {"lastUpdated": "2024-01-01T08:00:00Z"}});
    assert_eq!(
        resolve(None, &a, &same, s(Tie::SourceWins), PULL),
        Resolution::Resolved(same.clone())
    );
    assert_eq!(
        resolve(None, &a, &same, s(Tie::DestWins), PULL),
        Resolution::Resolved(a.clone())
    );
    let no_time = json!({"v": 4});
    assert!(matches!(
        resolve(None, &a, &no_time, s(Tie::Manual), PULL),
        Resolution::Conflict { fields, .. } if fields == ["updatedAt"]
    ));
}

#[test]
fn merge_takes_changes_from_both_sides() {
    let (base, local, remote) = versions();
    let merged = resolve(
        Some(&base),
        &local,
        &remote,
        Strategy::Merge {
            on_conflict: OnConflict::SourceWins,
        },
        PULL,
    );
    assert_eq!(
        merged,
        Resolution::Resolved(json!({
            "firstName": "Janet", "phone": "222", "email": "c@x.org", "updatedAt": "2024-03-01T00:00:00Z"
        }))
    );
    let merged = resolve(
        Some(&base),
        &local,
        &remote,
        Strategy::Merge {
            on_conflict: OnConflict::DestWins,
        },
        PULL,
    );
    let Resolution::Resolved(v) = merged else {
        panic!()
    };
    assert_eq!(
        (v["email"].as_str(), v["phone"].as_str()),
        (Some("b@x.org"), Some("222"))
    );
    let merged = resolve(
        Some(&base),
        &local,
        &remote,
        Strategy::Merge {
            on_conflict: OnConflict::NewestWins,
        },
        PUSH,
    );
    let Resolution::Resolved(v) = merged else {
        panic!()
    };
    assert_eq!(v["email"], json!("c@x.org"));
}

#[test]
fn merge_parks_fields_changed_on_both_sides() {
    let (base, local, remote) = versions();
    let Resolution::Conflict {
        fields,
        local: l,
        remote: r,
    } = resolve(
        Some(&base),
        &local,
        &remote,
        Strategy::Merge {
            on_conflict: OnConflict::Manual,
        },
        PULL,
    )
    else {
        panic!("expected a conflict");
    };
    assert_eq!(fields, ["email", "updatedAt"]);
    assert_eq!((l, r), (local, remote));
}

#[test]
fn merge_handles_nesting_deletion_and_no_base() {
    let base = json!({"address": {"city": "A", "zip": "1"}, "note": "x"});
    let local = json!({"address": {"city": "B", "zip": "1"}, "note": "x"});
    let remote = json!({"address": {"city": "A", "zip": "2"}});
    let m = Strategy::Merge {
        on_conflict: OnConflict::Manual,
    };
    assert_eq!(
        resolve(Some(&base), &local, &remote, m, PULL),
        Resolution::Resolved(json!({"address": {"city": "B", "zip": "2"}}))
    );
    // Without a base, additions merge and differing values conflict.
    let a = json!({"x": 1, "y": 1});
    let b = json!({"x": 2, "z": 3});
    let Resolution::Conflict { fields, .. } = resolve(None, &a, &b, m, PULL) else {
        panic!()
    };
    assert_eq!(fields, ["x"]);
    let Resolution::Resolved(v) = resolve(
        None,
        &a,
        &b,
        Strategy::Merge {
            on_conflict: OnConflict::DestWins,
        },
        PULL,
    ) else {
        panic!()
    };
    assert_eq!(v, json!({"x": 1, "y": 1, "z": 3}));
}
