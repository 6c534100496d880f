//! The request handler of the zone server (`super::zones`): one in-process server holds a parent
//! zone and its children, and a DS question at a zone cut must be answered by the parent, as
//! separate servers would.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{Catalog, ZoneHandler};

/// Sends DS queries for a zone's apex to the zone above it, as a real parent server would: one
/// hickory `Catalog` answers every name from the deepest zone it holds, which for a DS query at a
/// zone cut is the child, whose unsigned "no DS here" would break the chain of trust.
pub struct Router {
    all: Catalog,
    above: HashMap<LowerName, Catalog>,
}

impl Router {
    pub(super) fn new(zones: &[(LowerName, Arc<dyn ZoneHandler>)]) -> Self {
        let catalog_of = |skip: Option<&LowerName>| {
            let mut catalog = Catalog::new();
            for (origin, handler) in zones {
                if Some(origin) != skip {
                    catalog.upsert(origin.clone(), vec![Arc::clone(handler)]);
                }
            }
            catalog
        };
        let above = zones
            .iter()
            .filter(|(origin, _)| !origin.is_root())
            .map(|(origin, _)| (origin.clone(), catalog_of(Some(origin))))
            .collect();
        Self {
            all: catalog_of(None),
            above,
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for Router {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        let parent = request.request_info().ok().and_then(|info| {
            (info.query.query_type() == RecordType::DS)
                .then(|| self.above.get(info.query.name()))
                .flatten()
        });
        parent
            .unwrap_or(&self.all)
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}
