//! Placeholder, replaced by the DNS backend work.
use super::{
    normalize_name, Answer, DnsSettings, DnsSetupError, LookupError, MxRecord, RecordType,
};
use crate::dane::TlsaRecord;
use std::net::IpAddr;

pub(super) struct Validator;

impl Validator {
    pub(super) fn new(_settings: &DnsSettings) -> Result<Self, DnsSetupError> {
        Err(DnsSetupError::Resolver("not built yet".into()))
    }
    fn fail<T>(name: &str, rtype: RecordType) -> Answer<T> {
        Answer {
            name: normalize_name(name),
            rtype,
            result: Err(LookupError::Network {
                detail: "not built".into(),
            }),
        }
    }
    pub(super) async fn lookup_mx(&self, domain: &str) -> Answer<MxRecord> {
        Self::fail(domain, RecordType::Mx)
    }
    pub(super) async fn lookup_tlsa(&self, name: &str) -> Answer<TlsaRecord> {
        Self::fail(name, RecordType::Tlsa)
    }
    pub(super) async fn lookup_addresses(&self, host: &str, rtype: RecordType) -> Answer<IpAddr> {
        Self::fail(host, rtype)
    }
}
