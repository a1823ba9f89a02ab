//! Applies KubeTask's `podOverride` to the pod spec the way Kubernetes' strategic merge does for
//! the parts that matter: maps merge key by key, lists of named items (containers, volumes,
//! env) merge item by item by `name`, anything else is replaced.

use serde_json::Value;

pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (key, value) in p {
                match b.get_mut(key) {
                    Some(existing) if !value.is_null() => merge(existing, value),
                    _ => {
                        b.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(p)) if all_named(b) && all_named(p) => {
            for item in p {
                match b
                    .iter_mut()
                    .find(|existing| existing["name"] == item["name"])
                {
                    Some(existing) => merge(existing, item),
                    None => b.push(item.clone()),
                }
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

fn all_named(items: &[Value]) -> bool {
    items
        .iter()
        .all(|i| i.get("name").is_some_and(Value::is_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name_and_scalars_replace() {
        let mut spec =
            json!({"restartPolicy": "Never", "containers": [{"name": "container", "image": "a"}]});
        merge(
            &mut spec,
            &json!({"containers": [{"name": "container", "imagePullPolicy": "Always"}], "restartPolicy": "OnFailure",
                    "nodeSelector": {"k": "v"}}),
        );
        assert_eq!(
            spec,
            json!({"restartPolicy": "OnFailure", "nodeSelector": {"k": "v"},
                   "containers": [{"name": "container", "image": "a", "imagePullPolicy": "Always"}]})
        );
    }
}
