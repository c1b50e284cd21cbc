//! The shape of the rule tables: an element has a name, a cardinality and a type; a type is a
//! primitive, a code with a required binding, a complex datatype or backbone element (its own
//! table), a choice (`value[x]`), a nested resource, or anything. Also the general-purpose
//! datatypes' tables, shared by every resource.

use serde_json::{Map, Value};

use super::primitives::Prim;
use super::valuesets::{self as vs, ValueSet};
use super::walk::Walker;

/// A rule the tables can't express (a FHIR invariant such as `qty-3`), run on the object once
/// its elements are checked. Gets the object and its FHIRPath location.
pub(super) type Invariant = fn(&mut Walker, &Map<String, Value>, &str);

/// One element of a resource, datatype or backbone element.
pub(super) struct El {
    /// JSON name; for a choice, the name without the type suffix (`value` for `value[x]`).
    pub name: &'static str,
    /// Minimum number of values (0 or 1).
    pub min: u8,
    /// Whether it is a list (max `*`).
    pub many: bool,
    pub ty: Ty,
}

/// The type of an element.
pub(super) enum Ty {
    Prim(Prim),
    /// A `code` with a required binding.
    Code(&'static ValueSet),
    /// A CodeableConcept with a required binding.
    Concept(&'static ValueSet),
    /// A complex datatype or backbone element.
    Type(&'static Complex),
    /// `name[x]`: the allowed type suffixes and their types.
    Choice(&'static [(&'static str, Ty)]),
    /// A resource (Bundle.entry.resource, contained).
    Resource,
    /// Anything: a type whose inside is not checked (Timing, Dosage…).
    Any,
}

/// A complex datatype or backbone element.
pub(super) struct Complex {
    pub elements: &'static [El],
    pub invariant: Option<Invariant>,
}

/// A resource type's rules.
pub(super) struct ResourceDef {
    pub name: &'static str,
    pub elements: &'static [El],
    pub invariant: Option<Invariant>,
}

/// `0..1`.
pub(super) const fn opt(name: &'static str, ty: Ty) -> El {
    El {
        name,
        min: 0,
        many: false,
        ty,
    }
}
/// `1..1`.
pub(super) const fn req(name: &'static str, ty: Ty) -> El {
    El {
        name,
        min: 1,
        many: false,
        ty,
    }
}
/// `0..*`.
pub(super) const fn list(name: &'static str, ty: Ty) -> El {
    El {
        name,
        min: 0,
        many: true,
        ty,
    }
}
/// `1..*`.
pub(super) const fn some(name: &'static str, ty: Ty) -> El {
    El {
        name,
        min: 1,
        many: true,
        ty,
    }
}

pub(super) const BOOLEAN: Ty = Ty::Prim(Prim::Boolean);
pub(super) const INTEGER: Ty = Ty::Prim(Prim::Integer);
pub(super) const UNSIGNED_INT: Ty = Ty::Prim(Prim::UnsignedInt);
pub(super) const POSITIVE_INT: Ty = Ty::Prim(Prim::PositiveInt);
pub(super) const DECIMAL: Ty = Ty::Prim(Prim::Decimal);
pub(super) const STRING: Ty = Ty::Prim(Prim::String);
pub(super) const MARKDOWN: Ty = Ty::Prim(Prim::Markdown);
pub(super) const CODE: Ty = Ty::Prim(Prim::Code);
pub(super) const ID: Ty = Ty::Prim(Prim::Id);
pub(super) const URI: Ty = Ty::Prim(Prim::Uri);
pub(super) const URL: Ty = Ty::Prim(Prim::Url);
pub(super) const CANONICAL: Ty = Ty::Prim(Prim::Canonical);
pub(super) const BASE64: Ty = Ty::Prim(Prim::Base64Binary);
pub(super) const DATE: Ty = Ty::Prim(Prim::Date);
pub(super) const DATE_TIME: Ty = Ty::Prim(Prim::DateTime);
pub(super) const INSTANT: Ty = Ty::Prim(Prim::Instant);
pub(super) const TIME: Ty = Ty::Prim(Prim::Time);
pub(super) const XHTML: Ty = Ty::Prim(Prim::Xhtml);

pub(super) const CC: Ty = Ty::Type(&CODEABLE_CONCEPT);
pub(super) const CODING: Ty = Ty::Type(&CODING_T);
pub(super) const REFERENCE: Ty = Ty::Type(&REFERENCE_T);
pub(super) const IDENTIFIER: Ty = Ty::Type(&IDENTIFIER_T);
pub(super) const HUMAN_NAME: Ty = Ty::Type(&HUMAN_NAME_T);
pub(super) const CONTACT_POINT: Ty = Ty::Type(&CONTACT_POINT_T);
pub(super) const ADDRESS: Ty = Ty::Type(&ADDRESS_T);
pub(super) const PERIOD: Ty = Ty::Type(&PERIOD_T);
pub(super) const QUANTITY: Ty = Ty::Type(&QUANTITY_T);
pub(super) const RANGE: Ty = Ty::Type(&RANGE_T);
pub(super) const RATIO: Ty = Ty::Type(&RATIO_T);
pub(super) const ATTACHMENT: Ty = Ty::Type(&ATTACHMENT_T);
pub(super) const ANNOTATION: Ty = Ty::Type(&ANNOTATION_T);
pub(super) const META: Ty = Ty::Type(&META_T);
pub(super) const NARRATIVE: Ty = Ty::Type(&NARRATIVE_T);
pub(super) const EXTENSION: Ty = Ty::Type(&EXTENSION_T);

static CODEABLE_CONCEPT: Complex = Complex {
    elements: &[list("coding", CODING), opt("text", STRING)],
    invariant: None,
};
static CODING_T: Complex = Complex {
    elements: &[
        opt("system", URI),
        opt("version", STRING),
        opt("code", CODE),
        opt("display", STRING),
        opt("userSelected", BOOLEAN),
    ],
    invariant: None,
};
static REFERENCE_T: Complex = Complex {
    elements: &[
        opt("reference", STRING),
        opt("type", URI),
        opt("identifier", Ty::Type(&IDENTIFIER_T)),
        opt("display", STRING),
    ],
    invariant: Some(super::invariants::reference),
};
static IDENTIFIER_T: Complex = Complex {
    elements: &[
        opt("use", Ty::Code(&vs::IDENTIFIER_USE)),
        opt("type", CC),
        opt("system", URI),
        opt("value", STRING),
        opt("period", PERIOD),
        opt("assigner", Ty::Type(&REFERENCE_T)),
    ],
    invariant: None,
};
static HUMAN_NAME_T: Complex = Complex {
    elements: &[
        opt("use", Ty::Code(&vs::NAME_USE)),
        opt("text", STRING),
        opt("family", STRING),
        list("given", STRING),
        list("prefix", STRING),
        list("suffix", STRING),
        opt("period", PERIOD),
    ],
    invariant: None,
};
static CONTACT_POINT_T: Complex = Complex {
    elements: &[
        opt("system", Ty::Code(&vs::CONTACT_POINT_SYSTEM)),
        opt("value", STRING),
        opt("use", Ty::Code(&vs::CONTACT_POINT_USE)),
        opt("rank", POSITIVE_INT),
        opt("period", PERIOD),
    ],
    invariant: Some(super::invariants::cpt_2),
};
static ADDRESS_T: Complex = Complex {
    elements: &[
        opt("use", Ty::Code(&vs::ADDRESS_USE)),
        opt("type", Ty::Code(&vs::ADDRESS_TYPE)),
        opt("text", STRING),
        list("line", STRING),
        opt("city", STRING),
        opt("district", STRING),
        opt("state", STRING),
        opt("postalCode", STRING),
        opt("country", STRING),
        opt("period", PERIOD),
    ],
    invariant: None,
};
static PERIOD_T: Complex = Complex {
    elements: &[opt("start", DATE_TIME), opt("end", DATE_TIME)],
    invariant: Some(super::invariants::per_1),
};
static QUANTITY_T: Complex = Complex {
    elements: &[
        opt("value", DECIMAL),
        opt("comparator", Ty::Code(&vs::QUANTITY_COMPARATOR)),
        opt("unit", STRING),
        opt("system", URI),
        opt("code", CODE),
    ],
    invariant: Some(super::invariants::qty_3),
};
static RANGE_T: Complex = Complex {
    elements: &[opt("low", QUANTITY), opt("high", QUANTITY)],
    invariant: None,
};
static RATIO_T: Complex = Complex {
    elements: &[opt("numerator", QUANTITY), opt("denominator", QUANTITY)],
    invariant: None,
};
static ATTACHMENT_T: Complex = Complex {
    elements: &[
        opt("contentType", CODE),
        opt("language", CODE),
        opt("data", BASE64),
        opt("url", URL),
        opt("size", UNSIGNED_INT),
        opt("hash", BASE64),
        opt("title", STRING),
        opt("creation", DATE_TIME),
    ],
    invariant: None,
};
static ANNOTATION_T: Complex = Complex {
    elements: &[
        opt(
            "author",
            Ty::Choice(&[("Reference", REFERENCE), ("String", STRING)]),
        ),
        opt("time", DATE_TIME),
        req("text", MARKDOWN),
    ],
    invariant: None,
};
static META_T: Complex = Complex {
    elements: &[
        opt("versionId", ID),
        opt("lastUpdated", INSTANT),
        opt("source", URI),
        list("profile", CANONICAL),
        list("security", CODING),
        list("tag", CODING),
    ],
    invariant: None,
};
static NARRATIVE_T: Complex = Complex {
    elements: &[
        req("status", Ty::Code(&vs::NARRATIVE_STATUS)),
        req("div", XHTML),
    ],
    invariant: None,
};
static EXTENSION_T: Complex = Complex {
    elements: &[req("url", URI)],
    invariant: Some(super::invariants::ext_1),
};

/// The types an observation or extension value may have, with the ones checked inside.
pub(super) const VALUE_TYPES: &[(&str, Ty)] = &[
    ("Quantity", QUANTITY),
    ("CodeableConcept", CC),
    ("String", STRING),
    ("Boolean", BOOLEAN),
    ("Integer", INTEGER),
    ("Range", RANGE),
    ("Ratio", RATIO),
    ("SampledData", Ty::Any),
    ("Time", TIME),
    ("DateTime", DATE_TIME),
    ("Period", PERIOD),
];
