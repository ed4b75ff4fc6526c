//! `lbc chaos` on a Kubernetes environment (issue #14): the victims are the ready pods of
//! the release (`app.kubernetes.io/instance=RELEASE`), deleted one at a time with
//! `kubectl delete pod`, and never more than the PodDisruptionBudgets that select them
//! allow: before each kill lbc reads the budgets and the ready pods, and skips the kill
//! when any budget allows no disruption. A kill has recovered when as many pods of the
//! release are ready as before it (the ReplicaSet replaced the pod).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::commands::chaos::{self, ChaosRequest, Pick, Victims};
use crate::commands::Ctx;
use crate::error::Error;
use crate::plan::{Plan, Step};
use crate::runner::Runner;
use crate::targets::kube::Kube;
use crate::tools::kubectl::{parse_items, Kubectl};

#[derive(Debug, Default, Deserialize)]
struct Pod {
    #[serde(default)]
    metadata: PodMeta,
    #[serde(default)]
    status: PodStatus,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    deletion_timestamp: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct PodStatus {
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Debug, Default, Deserialize)]
struct Condition {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    status: String,
}

impl Pod {
    fn ready(&self) -> bool {
        self.metadata.deletion_timestamp.is_none()
            && self
                .status
                .conditions
                .iter()
                .any(|c| c.kind == "Ready" && c.status == "True")
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct Pdb {
    #[serde(default)]
    metadata: PodMeta,
    #[serde(default)]
    spec: PdbSpec,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PdbSpec {
    #[serde(default)]
    min_available: Option<serde_json::Value>,
    #[serde(default)]
    max_unavailable: Option<serde_json::Value>,
    #[serde(default)]
    selector: Option<Selector>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    #[serde(default)]
    match_labels: BTreeMap<String, String>,
}

/// An int-or-percent of `total`, rounded up (as Kubernetes scales a budget).
fn scaled(v: &serde_json::Value, total: usize) -> Option<usize> {
    match v {
        serde_json::Value::Number(n) => n.as_u64().map(|n| n as usize),
        serde_json::Value::String(s) => match s.strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<usize>()
                .ok()
                .map(|p| (p * total).div_ceil(100)),
            None => s.trim().parse().ok(),
        },
        _ => None,
    }
}

impl Pdb {
    /// Does it select this pod? (matchLabels; a budget without a selector selects none.)
    fn selects(&self, pod: &Pod) -> bool {
        self.spec.selector.as_ref().is_some_and(|s| {
            !s.match_labels.is_empty()
                && s.match_labels
                    .iter()
                    .all(|(k, v)| pod.metadata.labels.get(k) == Some(v))
        })
    }

    /// How many of the pods it selects may be disrupted now.
    fn allowed(&self, pods: &[&Pod]) -> usize {
        let total = pods.len();
        let ready = pods.iter().filter(|p| p.ready()).count();
        if let Some(min) = self
            .spec
            .min_available
            .as_ref()
            .and_then(|v| scaled(v, total))
        {
            return ready.saturating_sub(min);
        }
        if let Some(max) = self
            .spec
            .max_unavailable
            .as_ref()
            .and_then(|v| scaled(v, total))
        {
            return max.saturating_sub(total - ready);
        }
        // Neither key (the API refuses such a budget): allow nothing rather than guess.
        0
    }
}

/// The pods of the release and the budgets of the namespace.
fn observe(
    runner: &Runner,
    kubectl: &Kubectl,
    selector: &str,
) -> Result<(Vec<Pod>, Vec<Pdb>), Error> {
    let pods = runner.query(&kubectl.get_selected_json("pods", selector))?;
    if !pods.ok() {
        return Err(Error::failed(
            format!(
                "could not list the pods of the release: {}",
                pods.stderr.trim()
            ),
            None,
        ));
    }
    let pdbs = runner.query(&kubectl.pdbs_json())?;
    if !pdbs.ok() {
        return Err(Error::failed(
            format!("could not read the PodDisruptionBudgets: {}", pdbs.stderr.trim()),
            Some("lbc never kills more pods than the budget allows: it must be able to read them (`kubectl get pdb`)".to_owned()),
        ));
    }
    Ok((parse_items(&pods.stdout), parse_items(&pdbs.stdout)))
}

/// What a kill may do now: the ready pods that may go, or why none may.
fn candidates(pods: &[Pod], pdbs: &[Pdb]) -> Result<Vec<String>, String> {
    let ready: Vec<&Pod> = pods.iter().filter(|p| p.ready()).collect();
    if ready.is_empty() {
        return Err("no pod of the release is ready".into());
    }
    let mut names = Vec::new();
    let mut why = None;
    for p in &ready {
        let blocking = pdbs.iter().find(|b| {
            b.selects(p) && {
                let selected: Vec<&Pod> = pods.iter().filter(|q| b.selects(q)).collect();
                b.allowed(&selected) == 0
            }
        });
        match blocking {
            Some(b) => {
                why = Some(format!(
                    "the PodDisruptionBudget {} allows no disruption now ({} of {} pods ready)",
                    b.metadata.name,
                    ready.len(),
                    pods.len()
                ))
            }
            None => names.push(p.metadata.name.clone()),
        }
    }
    if names.is_empty() {
        return Err(why.unwrap_or_else(|| "no pod may be disrupted".into()));
    }
    names.sort();
    Ok(names)
}

struct PodVictims {
    kubectl: Kubectl,
    selector: String,
    env_name: String,
    url: String,
    /// Ready pods before each kill, by victim.
    before: BTreeMap<String, usize>,
}

impl Victims for PodVictims {
    fn url(&self) -> &str {
        &self.url
    }

    fn pick(&mut self, runner: &Runner, random: u64) -> Result<Pick, Error> {
        let (pods, pdbs) = observe(runner, &self.kubectl, &self.selector)?;
        match candidates(&pods, &pdbs) {
            Ok(c) => {
                let v = c[(random % c.len() as u64) as usize].clone();
                self.before
                    .insert(v.clone(), pods.iter().filter(|p| p.ready()).count());
                Ok(Pick::Victim(v))
            }
            Err(why) => Ok(Pick::Skip(why)),
        }
    }

    fn kill_plan(&self, victim: &str) -> Plan {
        let mut p = Plan::new(format!("chaos {}", self.env_name));
        p.push(Step::exec(
            format!("Delete pod {victim}"),
            self.kubectl.delete_pod(victim),
        ));
        p
    }

    fn recovered(&mut self, runner: &Runner, victim: &str) -> Result<bool, Error> {
        let want = self.before.get(victim).copied().unwrap_or(1);
        let (pods, _) = observe(runner, &self.kubectl, &self.selector)?;
        Ok(pods
            .iter()
            .filter(|p| p.ready() && p.metadata.name != victim)
            .count()
            >= want)
    }
}

/// `lbc chaos` of a Kubernetes environment deployed directly (helm or kubectl).
pub fn run(k: &Kube, ctx: &mut Ctx, req: ChaosRequest) -> Result<(), Error> {
    crate::runner::find(&k.kubectl_bin)?;
    let Some(url) = req.url.clone() else {
        return Err(Error::usage(
            format!("`lbc chaos {}` needs --url: lbc does not know the service's address from outside the cluster", k.env_name),
            Some("give the address users reach (an ingress, or `kubectl port-forward`), e.g. --url http://127.0.0.1:8080/healthz".to_owned()),
        ));
    };
    let mut plan = k.plan("chaos");
    let kubectl = k.kubectl();
    let selector = k.selector();
    plan.push(Step::exec(
        "Read the pods of the release (before each kill)",
        kubectl.get_selected_json("pods", &selector),
    ));
    plan.push(Step::exec(
        "Read the PodDisruptionBudgets (before each kill: none is ever exceeded)",
        kubectl.pdbs_json(),
    ));
    let mut victims = PodVictims {
        kubectl,
        selector: selector.clone(),
        env_name: k.env_name.clone(),
        url,
        before: BTreeMap::new(),
    };
    chaos::describe(
        &mut plan,
        &req,
        victims.url(),
        &format!("a ready pod of the release ({selector}), if its PodDisruptionBudget allows it"),
    );
    plan.steps.extend(victims.kill_plan("POD").steps);
    let guard = k.guard("kill its replicas (lbc chaos)", None, req.yes);
    chaos::execute(ctx, &k.env_name, &plan, guard.as_ref(), &req, &mut victims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, app: &str, ready: bool) -> Pod {
        Pod {
            metadata: PodMeta {
                name: name.into(),
                labels: [("app".to_owned(), app.to_owned())].into(),
                deletion_timestamp: None,
            },
            status: PodStatus {
                conditions: vec![Condition {
                    kind: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                }],
            },
        }
    }

    fn pdb(min: Option<serde_json::Value>, max: Option<serde_json::Value>) -> Pdb {
        Pdb {
            metadata: PodMeta {
                name: "web".into(),
                ..PodMeta::default()
            },
            spec: PdbSpec {
                min_available: min,
                max_unavailable: max,
                selector: Some(Selector {
                    match_labels: [("app".to_owned(), "web".to_owned())].into(),
                }),
            },
        }
    }

    /// #14: never more disruptions than the budget allows.
    #[test]
    fn the_budget_limits_the_victims() {
        let pods = vec![
            pod("a", "web", true),
            pod("b", "web", true),
            pod("c", "web", true),
        ];
        let min2 = [pdb(Some(serde_json::json!(2)), None)];
        assert_eq!(candidates(&pods, &min2).unwrap(), ["a", "b", "c"]);
        let one_down = vec![
            pod("a", "web", true),
            pod("b", "web", true),
            pod("c", "web", false),
        ];
        let err = candidates(&one_down, &min2).unwrap_err();
        assert!(
            err.contains("PodDisruptionBudget web allows no disruption"),
            "{err}"
        );
        let max1 = [pdb(None, Some(serde_json::json!("33%")))]; // 1 of 3, rounded up
        assert_eq!(candidates(&pods, &max1).unwrap().len(), 3);
        assert!(candidates(&one_down, &max1).is_err());
        // Pods no budget selects may go.
        let other = vec![pod("x", "other", true)];
        assert_eq!(candidates(&other, &min2).unwrap(), ["x"]);
        assert!(candidates(&[pod("z", "web", false)], &[]).is_err());
    }
}
