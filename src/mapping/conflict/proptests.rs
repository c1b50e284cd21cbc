//! Properties of the three-way merge: deterministic and independent of which side is called
//! local; a side that did not change never overwrites one that did; identical sides merge to
//! themselves.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::Strategy as Merge;
use super::{Direction, OnConflict, Resolution, resolve};

fn record() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        (0i64..3).prop_map(|n| json!(n)),
        Just(json!("s")),
        Just(Value::Null)
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        proptest::collection::btree_map("[a-d]", inner, 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
    })
}

fn objects() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map("[a-e]", record(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn any_on_conflict() -> impl Strategy<Value = OnConflict> {
    prop_oneof![
        Just(OnConflict::SourceWins),
        Just(OnConflict::DestWins),
        Just(OnConflict::NewestWins),
        Just(OnConflict::Manual),
    ]
}

proptest! {
    #[test]
    fn merge_is_deterministic_and_symmetric(
        base in objects(), local in objects(), remote in objects(), oc in any_on_conflict()
    ) {
        let m = Merge::Merge { on_conflict: oc };
        let once = resolve(Some(&base), &local, &remote, m, Direction::Pull);
        prop_assert_eq!(&once, &resolve(Some(&base), &local, &remote, m, Direction::Pull));
        // Swapping which side is called local, with the source kept the same, changes nothing
        // but the labels.
        let swapped = resolve(Some(&base), &remote, &local, m, Direction::Push);
        match (once, swapped) {
            (Resolution::Resolved(a), Resolution::Resolved(b)) => prop_assert_eq!(a, b),
            (Resolution::Conflict { fields: a, .. }, Resolution::Conflict { fields: b, .. }) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "{a:?} vs {b:?}"),
        }
    }

    #[test]
    fn an_unchanged_side_never_overwrites_a_changed_one(
        base in objects(), changed in objects(), oc in any_on_conflict(), pull in any::<bool>()
    ) {
        let m = Merge::Merge { on_conflict: oc };
        let d = if pull { Direction::Pull } else { Direction::Push };
        prop_assert_eq!(resolve(Some(&base), &base, &changed, m, d), Resolution::Resolved(changed.clone()));
        prop_assert_eq!(resolve(Some(&base), &changed, &base, m, d), Resolution::Resolved(changed));
    }

    #[test]
    fn fields_changed_on_one_side_only_take_that_change(
        base in objects(), local in objects(), remote in objects(), oc in any_on_conflict()
    ) {
        let m = Merge::Merge { on_conflict: oc };
        let Resolution::Resolved(merged) = resolve(Some(&base), &local, &remote, m, Direction::Pull) else {
            return Ok(());
        };
        let keys: std::collections::BTreeSet<&String> = [&base, &local, &remote]
            .iter()
            .filter_map(|v| v.as_object())
            .flat_map(|o| o.keys())
            .collect();
        for k in keys {
            let (b, l, r) = (base.get(k), local.get(k), remote.get(k));
            if l == b && r != b {
                prop_assert_eq!(merged.get(k), r, "key {}", k);
            }
            if r == b && l != b {
                prop_assert_eq!(merged.get(k), l, "key {}", k);
            }
        }
    }

    #[test]
    fn identical_sides_merge_to_that_side(base in objects(), side in objects(), oc in any_on_conflict()) {
        let m = Merge::Merge { on_conflict: oc };
        prop_assert_eq!(resolve(Some(&base), &side, &side, m, Direction::Pull), Resolution::Resolved(side.clone()));
        prop_assert_eq!(resolve(None, &side, &side, m, Direction::Push), Resolution::Resolved(side));
    }
}
