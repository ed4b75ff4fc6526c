//! The one integration test binary: drives the real `lbc` binary on fixture projects,
//! against the real Docker engine and registry where the test needs them.

mod support;

mod adopt_detect;
mod catalog;
mod core_config;
mod core_docker;
mod core_network;
mod core_tasks;
mod fleet;
mod gitops;
mod hardening;
mod init_adopt;
mod init_chart;
mod init_ci;
mod init_renders;
mod init_stacks;
mod init_support;
mod init_template;
mod k8s_deploy;
mod services;
mod snapshots;
mod upgrade;
