//! `lookup(table, code)` and `lookup(table, code, column)`: values from the channel's code
//! tables (`scripts/lookups/<table>.csv`, see [`Lookups`]). A code
//! that is not in the table gives `()`, so `lookup("gender", code) ?? "U"` supplies a default.

use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult};

use crate::script::env::ScriptEnv;
use crate::script::lookups::Lookups;

type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

pub(super) fn register(engine: &mut Engine, env: &ScriptEnv) {
    let tables = Arc::clone(&env.lookups);
    engine.register_fn("lookup", move |table: &str, code: &str| {
        find(&tables, table, code, None)
    });
    let tables = Arc::clone(&env.lookups);
    engine.register_fn("lookup", move |table: &str, code: &str, column: &str| {
        find(&tables, table, code, Some(column))
    });
}

fn find(lookups: &Lookups, table: &str, code: &str, column: Option<&str>) -> RhaiResult<Dynamic> {
    let Some(t) = lookups.table(table) else {
        let names = lookups.names();
        let known = if names.is_empty() {
            "there are no tables in scripts/lookups/".to_string()
        } else {
            format!("the tables are {}", names.join(", "))
        };
        return Err(format!("lookup: there is no table `{table}` ({known})").into());
    };
    match t.get(code, column) {
        Ok(Some(value)) => Ok(Dynamic::from(value.to_string())),
        Ok(None) => Ok(Dynamic::UNIT),
        Err(problem) => Err(format!("lookup(\"{table}\", ..): {problem}").into()),
    }
}
