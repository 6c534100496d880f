//! In-process fixtures shared by the integration tests.

pub mod chromium;
pub mod dashboards;
pub mod dns_server;
pub mod exporter;
pub mod monitoring;
pub mod netns;
pub mod nginx;
pub mod probing;
pub mod service_server;
pub mod smtp_server;
pub mod stack;
