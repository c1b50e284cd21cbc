//! The tables of a channel file into [`ChannelConfig`]: the top level key by key, and the
//! tables selected by their `type` (`[source]`, each `[[destination]]`, a FHIR `auth`).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::file_check::{FileCx, Seen};
use super::problem_text::{list, one_of};
use super::read_spanned::{Place, read};
use crate::channel::config::{
    ChannelConfig, DestinationCommonConfig, DestinationConfig, DestinationKindConfig,
    DurabilityMode, FhirAuthConfig, FhirDestinationConfig, FileDestinationConfig, FileSourceConfig,
    HttpDestinationConfig, HttpSourceConfig, MllpDestinationConfig, MllpSourceConfig, SourceConfig,
    TOP_LEVEL_KEYS,
};
use crate::channel::diagnostic::Severity;
use crate::channel::suggest::did_you_mean;

/// The keys of a `[[destination]]` that every `type` has; the rest belong to the type.
/// A unit test checks this against [`DestinationCommonConfig`].
pub(crate) const DESTINATION_COMMON_KEYS: &[&str] =
    &["name", "retry", "ordered", "send_original", "transform"];

/// Reads the top-level table key by key, so a problem in one table never hides another's.
pub(super) fn read_config(
    cx: &mut FileCx<'_>,
    root: Spanned<DeTable<'_>>,
) -> (ChannelConfig, Seen) {
    let mut config = ChannelConfig::default();
    let mut seen = Seen::default();
    for (key, value) in root.into_inner() {
        let name: &str = key.get_ref();
        let at = |label: &str| Place {
            label: label.to_owned(),
            key: Some(name.to_owned()),
            extra: &[],
        };
        match name {
            "description" => config.description = read(cx, value, &at("`description`")),
            "enabled" => config.enabled = read(cx, value, &at("`enabled`")),
            "durability" => {
                config.durability = read::<Spanned<DurabilityMode>>(cx, value, &at("`durability`"))
            }
            "flush_interval_ms" => {
                config.flush_interval_ms = read(cx, value, &at("`flush_interval_ms`"))
            }
            "duplicates" => config.duplicates = read(cx, value, &at("[duplicates]")),
            "prune" => config.prune = read(cx, value, &at("[prune]")),
            "limits" => config.limits = read(cx, value, &at("[limits]")),
            "filter" => config.filter = read(cx, value, &at("[filter]")),
            "transform" => config.transform = read(cx, value, &at("[transform]")),
            "source" => {
                seen.source = true;
                config.source = read_source(cx, value);
            }
            "destination" => {
                let span = value.span();
                match value.into_inner() {
                    DeValue::Array(items) => {
                        seen.destinations = items.len();
                        for item in items.iter() {
                            if let Some(d) = read_destination(cx, item.clone()) {
                                config.destination.push(d);
                            }
                        }
                    }
                    _ => {
                        seen.destinations = 1;
                        cx.error_help(
                            span,
                            "`destination` must be a list of tables",
                            "write each destination under its own [[destination]] header \
                             (two pairs of brackets)",
                        );
                    }
                }
            }
            _ => {
                let mut d = cx.at(
                    key.span(),
                    Severity::Error,
                    format!("unknown key `{name}`, expected {}", one_of(TOP_LEVEL_KEYS)),
                );
                if let Some(hit) = did_you_mean(name, TOP_LEVEL_KEYS) {
                    d = d.with_help(format!("did you mean `{hit}`?"));
                }
                cx.push(d);
            }
        }
    }
    (config, seen)
}

/// `[source]`: its `type`, then the matching variant.
fn read_source(cx: &mut FileCx<'_>, value: Spanned<DeValue<'_>>) -> Option<Spanned<SourceConfig>> {
    let span = value.span();
    let (tag, rest) = take_tag(cx, value, "[source]", "source", SourceConfig::TYPES)?;
    let place = Place {
        label: "[source]".to_owned(),
        key: None,
        extra: &["type"],
    };
    let source = match tag.as_str() {
        "mllp" => read::<MllpSourceConfig>(cx, rest, &place).map(SourceConfig::Mllp),
        "http" => read::<HttpSourceConfig>(cx, rest, &place).map(SourceConfig::Http),
        "file" => read::<FileSourceConfig>(cx, rest, &place).map(SourceConfig::File),
        // `take_tag` only returns names from `TYPES`; a name added there and not here lands
        // as an internal error rather than a panic.
        other => {
            cx.error(
                span.clone(),
                format!("source type `{other}` is not implemented"),
            );
            None
        }
    }?;
    Some(Spanned::new(span, source))
}

/// One `[[destination]]`: `type`, the common keys, then the variant's keys.
fn read_destination(
    cx: &mut FileCx<'_>,
    value: Spanned<DeValue<'_>>,
) -> Option<Spanned<DestinationConfig>> {
    let span = value.span();
    let (tag, rest) = take_tag(
        cx,
        value,
        "[[destination]]",
        "destination",
        DestinationKindConfig::TYPES,
    )?;
    // Split the table: the common keys go to one struct, the rest to the variant, each
    // still carrying the table's span so a missing key points at the header.
    let DeValue::Table(table) = rest.into_inner() else {
        return None;
    };
    let mut common = DeTable::new();
    let mut kind = DeTable::new();
    for (k, v) in table {
        if DESTINATION_COMMON_KEYS.contains(&k.get_ref().as_ref()) {
            common.insert(k, v);
        } else {
            kind.insert(k, v);
        }
    }
    let common_place = Place {
        label: "[[destination]]".to_owned(),
        key: None,
        extra: &[],
    };
    let common: Option<DestinationCommonConfig> = read(
        cx,
        Spanned::new(span.clone(), DeValue::Table(common)),
        &common_place,
    );
    let mut extra: Vec<&'static str> = DESTINATION_COMMON_KEYS.to_vec();
    extra.push("type");
    let kind_place = Place {
        label: "[[destination]]".to_owned(),
        key: None,
        extra: &extra,
    };
    let kind_value = Spanned::new(span.clone(), DeValue::Table(kind));
    let kind = match tag.as_str() {
        "mllp" => read::<MllpDestinationConfig>(cx, kind_value, &kind_place)
            .map(DestinationKindConfig::Mllp),
        "http" => read::<HttpDestinationConfig>(cx, kind_value, &kind_place)
            .map(DestinationKindConfig::Http),
        "file" => read::<FileDestinationConfig>(cx, kind_value, &kind_place)
            .map(DestinationKindConfig::File),
        "fhir" => read_fhir_destination(cx, kind_value, &kind_place),
        other => {
            cx.error(
                span.clone(),
                format!("destination type `{other}` is not implemented"),
            );
            None
        }
    };
    Some(Spanned::new(
        span,
        DestinationConfig {
            common: common?,
            kind: kind?,
        },
    ))
}

/// The keys of a `type = "fhir"` destination; `auth` is a table selected by its own `type`,
/// so it is taken out and read like `[source]`, keeping the positions inside it.
fn read_fhir_destination(
    cx: &mut FileCx<'_>,
    value: Spanned<DeValue<'_>>,
    place: &Place<'_>,
) -> Option<DestinationKindConfig> {
    let span = value.span();
    let DeValue::Table(mut table) = value.into_inner() else {
        return None;
    };
    let auth = table.remove("auth");
    let mut extra = place.extra.to_vec();
    extra.push("auth");
    let place = Place {
        label: place.label.clone(),
        key: None,
        extra: &extra,
    };
    let fhir: Option<FhirDestinationConfig> =
        read(cx, Spanned::new(span, DeValue::Table(table)), &place);
    let auth = match auth {
        Some(auth) => Some(read_fhir_auth(cx, auth)?),
        None => None,
    };
    let mut fhir = fhir?;
    fhir.auth = auth;
    Some(DestinationKindConfig::Fhir(fhir))
}

/// `auth = { type = .., .. }` of a FHIR destination.
fn read_fhir_auth(
    cx: &mut FileCx<'_>,
    value: Spanned<DeValue<'_>>,
) -> Option<Spanned<FhirAuthConfig>> {
    let span = value.span();
    let (tag, rest) = take_tag(cx, value, "`auth`", "auth", FhirAuthConfig::TYPES)?;
    let place = Place {
        label: "`auth`".to_owned(),
        key: None,
        extra: &["type"],
    };
    let auth = match tag.as_str() {
        "smart" => read(cx, rest, &place).map(FhirAuthConfig::Smart),
        "bearer" => read(cx, rest, &place).map(FhirAuthConfig::Bearer),
        "basic" => read(cx, rest, &place).map(FhirAuthConfig::Basic),
        other => {
            cx.error(
                span.clone(),
                format!("auth type `{other}` is not implemented"),
            );
            None
        }
    };
    Some(Spanned::new(span, auth?))
}

/// Takes `type` out of a tagged table and checks it against `types`. Returns the type and
/// the rest of the table (with the table's span).
fn take_tag<'i>(
    cx: &mut FileCx<'_>,
    value: Spanned<DeValue<'i>>,
    label: &str,
    what: &str,
    types: &[&str],
) -> Option<(String, Spanned<DeValue<'i>>)> {
    let span = value.span();
    let DeValue::Table(mut table) = value.into_inner() else {
        cx.error(span, format!("{label} must be a table"));
        return None;
    };
    let Some(tag) = table.remove("type") else {
        cx.error_help(
            span,
            format!("missing required key `type` in {label}"),
            format!("add `type = ` one of {}", list(types)),
        );
        return None;
    };
    let Some(name) = tag.get_ref().as_str() else {
        cx.error(
            tag.span(),
            format!(
                "invalid value for `type`: expected a string, found {}",
                tag.get_ref().type_str()
            ),
        );
        return None;
    };
    if !types.contains(&name) {
        let mut d = cx.at(
            tag.span(),
            Severity::Error,
            format!("unknown {what} type `{name}`, expected {}", one_of(types)),
        );
        if let Some(hit) = did_you_mean(name, types) {
            d = d.with_help(format!("did you mean `{hit}`?"));
        }
        cx.push(d);
        return None;
    }
    Some((name.to_owned(), Spanned::new(span, DeValue::Table(table))))
}
