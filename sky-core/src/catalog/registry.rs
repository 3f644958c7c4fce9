//! Canonical accelerator names (`common/accelerators.csv`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::CatalogError;
use super::source::CatalogSource;

/// SkyPilot's list of canonical accelerator names and the clouds offering each
/// (`common/accelerators.csv`: `AcceleratorName,Clouds`), used to canonicalise what users type:
/// `v100` becomes `V100`, `a100-80gb` becomes `A100-80GB`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcceleratorRegistry {
    /// Canonical name → clouds (as written in the file, e.g. `AWS`, `GCP`).
    names: BTreeMap<String, Vec<String>>,
}

impl AcceleratorRegistry {
    /// Reads `common/accelerators.csv` from `source` (downloading it if the source allows).
    pub fn load(source: &CatalogSource) -> Result<Self, CatalogError> {
        let path = source.resolve("common/accelerators.csv")?;
        Self::from_path(&path)
    }

    /// Reads an `accelerators.csv` file.
    pub fn from_path(path: &Path) -> Result<Self, CatalogError> {
        let bytes = std::fs::read(path).map_err(|source| CatalogError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_reader(&bytes[..], path)
    }

    /// Reads `accelerators.csv` content; `path` is only used in messages.
    pub fn from_reader<R: Read>(reader: R, path: &Path) -> Result<Self, CatalogError> {
        let malformed = |line: u64, message: String| CatalogError::Malformed {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut rdr = csv::ReaderBuilder::new().from_reader(reader);
        let headers = rdr
            .headers()
            .map_err(|e| malformed(1, e.to_string()))?
            .clone();
        let col = |name: &str| headers.iter().position(|h| h.trim() == name);
        let name_col = col("AcceleratorName")
            .ok_or_else(|| malformed(1, "missing column \"AcceleratorName\"".into()))?;
        let clouds_col = col("Clouds");
        let mut names = BTreeMap::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| {
                malformed(e.position().map(|p| p.line()).unwrap_or(0), e.to_string())
            })?;
            let name = rec.get(name_col).unwrap_or("").trim();
            if name.is_empty() {
                continue;
            }
            let clouds = clouds_col
                .and_then(|c| rec.get(c))
                .map(parse_list)
                .unwrap_or_default();
            names.insert(name.to_string(), clouds);
        }
        Ok(AcceleratorRegistry { names })
    }

    /// A registry of just these names (each offered by no known cloud); used when
    /// `accelerators.csv` is unavailable, from the names in the loaded catalogs.
    pub fn from_names<I, S>(names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AcceleratorRegistry {
            names: names.into_iter().map(|n| (n.into(), Vec::new())).collect(),
        }
    }

    /// The canonical spelling of `name`, SkyPilot's rule: TPU names (`tpu-*`) are lower-cased;
    /// otherwise the one registered name equal to `name` ignoring case (if several differ only
    /// in case, the exact one). `None` when the registry does not know the name.
    pub fn canonicalize(&self, name: &str) -> Option<String> {
        let name = name.trim();
        if name.len() > 4
            && name
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("tpu-"))
        {
            return Some(name.to_ascii_lowercase());
        }
        let matches: Vec<&String> = self
            .names
            .keys()
            .filter(|n| n.eq_ignore_ascii_case(name))
            .collect();
        match matches.as_slice() {
            [] => None,
            [one] => Some((*one).clone()),
            many => many
                .iter()
                .find(|n| n.as_str() == name)
                .or(many.first())
                .map(|n| (*n).clone()),
        }
    }

    /// Registered names close to `name` (for "did you mean"), most similar first.
    pub fn suggest(&self, name: &str, n: usize) -> Vec<String> {
        crate::suggest::closest(name, self.names.keys().map(String::as_str), n)
    }

    /// The clouds listed for a canonical name (empty when unknown).
    pub fn clouds(&self, name: &str) -> &[String] {
        self.names.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// All canonical names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.keys().map(String::as_str)
    }

    /// The number of names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the registry is empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Parses a Python list literal like `['AWS', 'Azure']`.
fn parse_list(s: &str) -> Vec<String> {
    s.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|p| p.trim().trim_matches(['\'', '"']).trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_case_insensitively() {
        let csv = "AcceleratorName,Clouds\nA100,\"['AWS', 'GCP']\"\nA100-80GB,['GCP']\nV100,\"['AWS', 'Azure', 'GCP']\"\ntpu-v3,['GCP']\n";
        let r = AcceleratorRegistry::from_reader(csv.as_bytes(), Path::new("a.csv")).unwrap();
        assert_eq!(r.len(), 4);
        assert_eq!(r.canonicalize("v100").as_deref(), Some("V100"));
        assert_eq!(r.canonicalize("a100-80gb").as_deref(), Some("A100-80GB"));
        assert_eq!(r.canonicalize("TPU-V3-8").as_deref(), Some("tpu-v3-8"));
        assert_eq!(r.canonicalize("H100"), None);
        assert_eq!(r.canonicalize("tp\u{e9}-v3"), None, "no panic on non-ASCII");
        assert_eq!(r.clouds("V100"), ["AWS", "Azure", "GCP"]);
        assert_eq!(r.clouds("A100-80GB"), ["GCP"]);
        assert_eq!(r.suggest("V10", 1), vec!["V100".to_string()]);
    }
}
