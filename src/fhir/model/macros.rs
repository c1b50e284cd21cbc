//! `domain_resource!`: declares a resource struct with the elements every FHIR DomainResource
//! has (`resourceType`, `id`, `meta`, `text`, `contained`) and the `extra` map that keeps the
//! rest, so each resource file lists only what is particular to it.

/// Declares a DomainResource struct: the common elements, the given fields, `extra`, and the
/// [`FhirResource`](super::FhirResource) impl that names its `resourceType`.
macro_rules! domain_resource {
    (
        $(#[$doc:meta])*
        $name:ident = $type_name:literal {
            $( $(#[$fdoc:meta])* $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            #[doc = concat!("Always `", $type_name, "` in JSON; checked when reading.")]
            #[serde(rename = "resourceType")]
            pub resource_type: $crate::fhir::model::TypeTag<$name>,
            /// The logical id on its server.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub id: Option<String>,
            /// Version, profiles, tags.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub meta: Option<$crate::fhir::model::Meta>,
            /// The human-readable narrative.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub text: Option<$crate::fhir::model::Narrative>,
            /// Resources that exist only inside this one (referenced as `#id`).
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            pub contained: Vec<$crate::fhir::model::Resource>,
            $(
                $(#[$fdoc])*
                #[serde(default, skip_serializing_if = "crate::fhir::model::is_absent")]
                pub $field: $ty,
            )*
            /// Everything else (`extension`, `modifierExtension`, `_x` primitive extensions,
            /// elements not modelled), kept verbatim.
            #[serde(flatten)]
            pub extra: $crate::fhir::model::Extra,
        }

        impl $crate::fhir::model::FhirResource for $name {
            const RESOURCE_TYPE: &'static str = $type_name;
        }
    };
}
