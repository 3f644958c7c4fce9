//! Real SkyPilot task files (`tests/fixtures/skypilot`, sources in its `SOURCES.md`) load as
//! SkyPilot loads them, against SkyPilot's real GCP and Azure catalogs, and the optimizer
//! places them (or says why not) as SkyPilot's would. The expected facts were written by hand
//! from reading each file.

use std::path::PathBuf;

use sky_core::resources::{AcceleratorSpec, ImageId, Selection};
use sky_core::task::{TaskLoader, TaskNoteKind};
use sky_core::{CloudId, Dag};
use sky_optimizer::{BlockList, Objective, OptimizeError, Options, Plan, optimize};

use crate::real_catalogs::real;

fn load(file: &str) -> Dag {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/skypilot")
        .join(file);
    let dag = TaskLoader::new()
        .with_catalogs(real())
        .load_dag_file(&path)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    // Every file writes back to the same meaning.
    let again = TaskLoader::new()
        .with_catalogs(real())
        .load_dag_str(&dag.to_yaml_string_with_secrets().unwrap())
        .unwrap_or_else(|e| panic!("{file} written back: {e}"));
    assert_eq!(again, dag, "{file}: round trip");
    dag
}

fn plan(dag: &Dag) -> Result<Plan, OptimizeError> {
    optimize(
        dag,
        real(),
        &BlockList::new(),
        Objective::Cost,
        &Options::default(),
    )
}

fn acc_names(dag: &Dag, task: usize) -> Vec<String> {
    dag.tasks()[task]
        .resources
        .alternatives
        .iter()
        .map(|r| match &r.accelerators {
            Some(AcceleratorSpec::Name { name, .. }) => name.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

fn chosen_acc(p: &Plan) -> String {
    p.placements[0]
        .accelerators
        .as_ref()
        .map(|a| a.name.clone())
        .unwrap_or_default()
}

fn note_paths(dag: &Dag, kind: TaskNoteKind) -> Vec<String> {
    dag.notes(real())
        .into_iter()
        .filter(|n| n.kind == kind)
        .map(|n| n.path)
        .collect()
}

#[test]
fn ordered_accelerator_list_skips_what_no_catalog_offers() {
    // accelerators: ['A100-40GB:1', 'T4:1', 'V100:1', 'K80:1']: no GCP or Azure catalog has
    // A100-40GB or K80; SkyPilot loads the file and places the first feasible one, T4.
    let dag = load("test_multiple_accelerators_ordered.yaml");
    let t = &dag.tasks()[0];
    assert_eq!(t.name.as_deref(), Some("multi-accelerators-ordered"));
    assert_eq!(t.resources.selection, Selection::Ordered);
    assert_eq!(acc_names(&dag, 0), ["A100-40GB", "T4", "V100", "K80"]);
    assert_eq!(
        note_paths(&dag, TaskNoteKind::Infeasible),
        [
            "resources.ordered[0].accelerators",
            "resources.ordered[3].accelerators"
        ]
    );
    assert_eq!(chosen_acc(&plan(&dag).unwrap()), "T4");
}

#[test]
fn accelerator_set_picks_the_cheapest_feasible() {
    // {'A100-40GB:1', 'T4:1', 'V100:1', 'K80:1'}: any of them; T4 is the cheapest offered.
    let dag = load("test_multiple_resources_unordered.yaml");
    assert_eq!(dag.tasks()[0].resources.selection, Selection::AnyOf);
    assert_eq!(acc_names(&dag, 0), ["A100-40GB", "T4", "V100", "K80"]);
    assert_eq!(chosen_acc(&plan(&dag).unwrap()), "T4");
}

#[test]
fn set_times_any_of_clouds_without_aws() {
    // Three accelerators × {aws, gcp}, spot: six alternatives; AWS is not enabled here, so
    // only the GCP ones are candidates.
    let dag = load("test_multiple_accelerators_unordered_with_default.yaml");
    let r = &dag.tasks()[0].resources;
    assert_eq!(r.alternatives.len(), 6);
    assert!(r.alternatives.iter().all(|a| a.use_spot == Some(true)));
    let clouds: Vec<Option<CloudId>> = r.alternatives.iter().map(|a| a.cloud.clone()).collect();
    assert_eq!(
        clouds.iter().filter(|c| **c == Some(CloudId::Aws)).count(),
        3
    );
    let notes = note_paths(&dag, TaskNoteKind::Infeasible);
    assert_eq!(notes.len(), 3, "{notes:?}");
    let p = plan(&dag).unwrap();
    assert_eq!(p.placements[0].cloud, CloudId::Gcp);
    assert!(p.placements[0].use_spot);
}

#[test]
fn dags_keep_their_names_and_order() {
    let dag = load("chain_dag_2_jobs.yaml");
    assert_eq!(dag.name.as_deref(), Some("dag-name"));
    let names: Vec<_> = dag
        .tasks()
        .iter()
        .map(|t| t.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["simple-1", "simple-2"]);
    assert_eq!(dag.edges(), [(0, 1)]);
    assert_eq!(plan(&dag).unwrap().placements.len(), 2);

    let dag = load("pipeline.yaml");
    assert_eq!(dag.name.as_deref(), Some("pipeline"));
    assert_eq!(dag.len(), 4);
    assert_eq!(dag.tasks()[0].resources.alternatives.len(), 2);
    assert_eq!(dag.tasks()[3].name.as_deref(), Some("eval2"));
    let p = plan(&dag).unwrap();
    // Task `a` may use AWS or GCP; only GCP is enabled.
    assert_eq!(p.placement("a").unwrap().cloud, CloudId::Gcp);
}

#[test]
fn a_restart_budget_without_strategy_survives() {
    let dag = load("test_managed_jobs_retry.yaml");
    assert_eq!(dag.len(), 2);
    let jr = dag.tasks()[0].resources.alternatives[0]
        .job_recovery
        .clone()
        .unwrap();
    assert_eq!((jr.strategy, jr.max_restarts_on_errors), (None, 1));
    assert!(!dag.to_yaml_string().unwrap().contains("strategy"));
}

#[test]
fn kubernetes_loads_and_is_skipped_with_its_reason() {
    let dag = load("test_k8s_pod_config_image_pull_secrets.yaml");
    let t = &dag.tasks()[0];
    assert_eq!(
        t.resources.alternatives[0].cloud,
        Some(CloudId::Other("kubernetes".into()))
    );
    assert_eq!(note_paths(&dag, TaskNoteKind::Kept), ["config.kubernetes"]);
    let Err(OptimizeError::ResourcesUnavailable { reasons, .. }) = plan(&dag) else {
        panic!("nothing but Kubernetes was asked for")
    };
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("kubernetes") && r.contains("no backend")),
        "{reasons:?}"
    );
}

#[test]
fn container_images_load_and_are_refused_at_launch() {
    let dag = load("llm_vllm_serve_openai_api_docker.yaml");
    let t = &dag.tasks()[0];
    assert_eq!(
        t.envs.keys().collect::<Vec<_>>(),
        ["MODEL_NAME", "HF_TOKEN"]
    );
    assert_eq!(t.envs["HF_TOKEN"], None);
    assert_eq!(
        acc_names(&dag, 0),
        ["L4", "A10G", "A10", "A100", "A100-80GB"]
    );
    let refused = note_paths(&dag, TaskNoteKind::RefusedAtLaunch);
    assert!(
        refused.contains(&"resources.any_of[0].image_id".to_string()),
        "{refused:?}"
    );
    assert!(
        refused.contains(&"envs.HF_TOKEN".to_string()),
        "{refused:?}"
    );
    // A10G is AWS's: skipped; the task still places.
    assert!(
        note_paths(&dag, TaskNoteKind::Infeasible)
            .contains(&"resources.any_of[1].accelerators".to_string())
    );
    assert!(plan(&dag).is_ok());

    // SkyPilot's VM image plus container image form.
    let dag = load("test_aws_ami_and_docker.yaml");
    let r = &dag.tasks()[0].resources.alternatives[0];
    assert!(matches!(&r.image_id, Some(ImageId::PerRegion(m)) if m["docker"] == "ubuntu:22.04"));
    assert!(
        note_paths(&dag, TaskNoteKind::RefusedAtLaunch).contains(&"resources.image_id".to_string())
    );
}

#[test]
fn services_and_secrets_keep_their_order() {
    let dag = load("llm_vllm_service_with_auth.yaml");
    let t = &dag.tasks()[0];
    let service: Vec<&String> = t.extra["service"].as_object().unwrap().keys().collect();
    assert_eq!(service, ["readiness_probe", "replicas"]);
    assert_eq!(
        t.secrets.keys().collect::<Vec<_>>(),
        ["HF_TOKEN", "AUTH_TOKEN"]
    );
    assert!(t.secrets.values().all(Option::is_none));
    assert_eq!(t.resources.alternatives[0].ports.len(), 1);
    assert_eq!(note_paths(&dag, TaskNoteKind::Kept), ["service"]);
}

#[test]
fn azure_disk_size_places_on_azure() {
    let dag = load("disk_size.yaml");
    let r = &dag.tasks()[0].resources.alternatives[0];
    assert_eq!(
        (r.cloud.clone(), r.disk_size_gb),
        (Some(CloudId::Azure), Some(512))
    );
    assert_eq!(plan(&dag).unwrap().placements[0].cloud, CloudId::Azure);
}
