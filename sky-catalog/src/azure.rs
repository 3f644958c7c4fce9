//! Azure: SkyPilot's `azure/vms.csv` (no zones; a `Generation` column), its default CPU
//! families in SkyPilot's family notation, and [`AzureCatalog`].

use sky_core::CloudId;

use crate::csv_catalog::csv_catalog;
use crate::rules::CloudRules;

/// Azure's rules: no zones, accelerators bundled in the instance price.
pub(crate) static RULES: CloudRules = CloudRules {
    cloud: CloudId::Azure,
    zones: false,
    extra_column: Some("Generation"),
    is_default,
    optimize_by_zone: false,
    zone_id_note: None,
    split: None,
};

/// Azure default CPU families, in SkyPilot's family notation (`Standard_D8s_v5` is `Ds_v5`).
const AZURE_DEFAULT_FAMILIES: &[&str] = &["Ds_v5", "Es_v5", "Fs_v2"];

/// SkyPilot's Azure family of an instance type: `Standard_D8s_v5` → `Ds_v5`,
/// `Standard_E4-2s_v5` → `E_s_v5`, `Basic_A1` → `basic_a`.
fn family(instance: &str) -> Option<String> {
    if instance.starts_with("Basic_A") {
        return Some("basic_a".into());
    }
    let rest = instance.strip_prefix("Standard_")?;
    let rest = rest.strip_suffix("_Promo").unwrap_or(rest);
    let letters_end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    if letters_end == 0 {
        return None;
    }
    let (letters, after) = rest.split_at(letters_end);
    let digits_end = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    if digits_end == 0 {
        return None;
    }
    let after = &after[digits_end..];
    if let Some(constrained) = after.strip_prefix('-') {
        // `E4-2s_v5`: letters, vCPUs, '-', constrained vCPUs, suffix.
        let d = constrained
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(constrained.len());
        if d == 0 {
            return None;
        }
        return Some(format!("{letters}_{}", &constrained[d..]));
    }
    Some(format!("{letters}{after}"))
}

/// Whether `instance` belongs to one of the Azure default families.
fn is_default(instance: &str) -> bool {
    family(instance).is_some_and(|f| AZURE_DEFAULT_FAMILIES.contains(&f.as_str()))
}

csv_catalog!(
    /// Azure's catalog (`azure/vms.csv`): no zones (a zone in a request is rejected), GPUs
    /// bundled in the instance price, and a `Generation` column (`V1`, `V2`) that selects the
    /// image.
    AzureCatalog,
    &RULES
);

impl AzureCatalog {
    /// The Hyper-V generations an instance type supports (`V1`, `V2` or `V1,V2`).
    pub fn generation(&self, instance_type: &str) -> Option<&str> {
        let t = &self.core.t;
        let row = t.rows.get(*t.rows_of(instance_type).first()? as usize)?;
        let s = t.s(row.extra);
        (!s.is_empty()).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_families() {
        assert_eq!(family("Standard_D8s_v5").as_deref(), Some("Ds_v5"));
        assert_eq!(family("Standard_E4-2s_v5").as_deref(), Some("E_s_v5"));
        assert_eq!(family("Standard_F8s_v2").as_deref(), Some("Fs_v2"));
        assert_eq!(family("Standard_D8ds_v5").as_deref(), Some("Dds_v5"));
        assert_eq!(family("Standard_A1_v2_Promo").as_deref(), Some("A_v2"));
        assert_eq!(family("Standard_"), None);
        assert_eq!(family("weird"), None);
        assert!(is_default("Standard_E8s_v5"));
        assert!(!is_default("Standard_D8as_v5"));
    }
}
