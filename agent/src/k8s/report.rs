//! Problems with Kubernetes objects reported where operators look: a Warning Event on the
//! object (`kubectl describe`, `kubectl get events`), besides the agent's log and metrics.
//! An object's problem is published when it appears or changes, not at every pass.

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use std::collections::HashMap;
use tracing::warn;

pub struct Reports {
    recorder: Recorder,
    /// What was last said of each object (by "<kind>/<namespace>/<name>").
    said: HashMap<String, String>,
}

impl Reports {
    pub fn new(client: kube::Client, node_name: &str) -> Reports {
        let reporter = Reporter {
            controller: "vrouter-agent".into(),
            instance: Some(node_name.into()),
        };
        Reports {
            recorder: Recorder::new(client, reporter),
            said: HashMap::new(),
        }
    }

    /// Publishes `note` on the object once (again when it changes); `reason` is the
    /// Event's one-word reason.
    pub async fn problem(&mut self, object: ObjectReference, reason: &str, note: &str) {
        let key = format!(
            "{}/{}/{}",
            object.kind.as_deref().unwrap_or_default(),
            object.namespace.as_deref().unwrap_or_default(),
            object.name.as_deref().unwrap_or_default()
        );
        if self.said.get(&key).is_some_and(|n| n == note) {
            return;
        }
        let ev = Event {
            type_: EventType::Warning,
            reason: reason.into(),
            note: Some(note.chars().take(1000).collect()),
            action: "Network".into(),
            secondary: None,
        };
        match self.recorder.publish(&ev, &object).await {
            Ok(()) => {
                self.said.insert(key, note.to_string());
            }
            Err(e) => warn!(object = %key, error = %e, "publishing an event"),
        }
    }

    /// Forgets objects that no longer have a problem (a later one is said again).
    pub fn retain(&mut self, still: impl Fn(&str) -> bool) {
        self.said.retain(|k, _| still(k));
    }
}

/// A reference to a core/v1 or custom object for an Event.
pub fn reference(
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    uid: Option<&str>,
) -> ObjectReference {
    ObjectReference {
        api_version: Some(api_version.into()),
        kind: Some(kind.into()),
        namespace: namespace.map(String::from),
        name: Some(name.into()),
        uid: uid.map(String::from),
        ..Default::default()
    }
}
