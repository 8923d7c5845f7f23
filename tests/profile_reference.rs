//! targets/README.md documents every profile key, with its default, and
//! nothing the parser does not accept.

use arcp_conform::profile::Profile;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;

const README: &str = include_str!("../targets/README.md");

/// Dotted key -> default, from the parser's own default profile.
fn parser_keys() -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        if let Value::Mapping(m) = v {
            for (k, v) in m {
                let k = k.as_str().unwrap();
                let key = if prefix.is_empty() {
                    k.to_string()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(key.clone(), v.clone());
                walk(&key, v, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        "",
        &serde_yaml_ng::to_value(Profile::default()).unwrap(),
        &mut out,
    );
    out
}

/// Dotted key -> default cell, from the reference table.
fn documented_keys() -> BTreeMap<String, String> {
    README
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| {
            let (key, rest) = l.split_once("` | ")?;
            let default = rest.split(" | ").next()?.to_string();
            Some((key.to_string(), default))
        })
        .collect()
}

#[test]
fn every_profile_key_is_documented_with_its_default_and_vice_versa() {
    let parsed = parser_keys();
    let documented = documented_keys();
    let undocumented: Vec<&String> = parsed
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    let unknown: Vec<&String> = documented
        .keys()
        .filter(|k| !parsed.contains_key(*k))
        .collect();
    assert!(
        undocumented.is_empty(),
        "profile keys missing from targets/README.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "targets/README.md documents keys the parser does not have: {unknown:?}"
    );
    for (key, default) in &parsed {
        let cell = &documented[key];
        let want = match default {
            Value::Null => "none".to_string(),
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string().trim_end_matches(".0").to_string(),
            Value::Bool(b) => b.to_string(),
            // A section: its default is described, not a scalar.
            _ => continue,
        };
        assert!(
            cell.contains(&format!("`{want}`"))
                || cell.contains(&format!("`\"{want}\"`"))
                || (want == "none" && cell == "none"),
            "{key}: default is {want:?}, targets/README.md says {cell:?}"
        );
    }
}

#[test]
fn a_profile_setting_every_documented_key_parses() {
    // Every documented leaf key, set to the parser's default, nested by its dots.
    let parsed = parser_keys();
    let mut root = serde_yaml_ng::Mapping::new();
    for key in documented_keys().keys() {
        let v = &parsed[key];
        if matches!(v, Value::Mapping(_)) {
            continue;
        }
        let mut m = &mut root;
        let parts: Vec<&str> = key.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            m = m
                .entry(Value::from(*p))
                .or_insert_with(|| Value::Mapping(Default::default()))
                .as_mapping_mut()
                .unwrap();
        }
        m.insert(Value::from(*parts.last().unwrap()), v.clone());
    }
    let yaml = serde_yaml_ng::to_string(&root).unwrap();
    let dir = std::env::temp_dir().join(format!("arcp-profile-ref-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("p.yaml");
    std::fs::write(&p, &yaml).unwrap();
    Profile::load(&p).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    // And a key it does not document is refused, naming the line.
    std::fs::write(&p, "name: x\nbogus_key: 1\n").unwrap();
    let err = Profile::load(&p).unwrap_err();
    assert!(err.contains("bogus_key") && err.contains(":2:"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}
