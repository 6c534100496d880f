//! The senders' view against our probe's, per MX host, pure: a finding where senders report
//! failures on a host our probe authenticates (their path differs from ours: another resolver,
//! another address family, a middlebox we do not cross), and where our probe fails on a host that
//! senders report DANE sessions to without failure (our path differs from theirs).

use serde::Serialize;

use super::view::SendersView;
use crate::core::{EndpointOutcome, Finding, HostDane, MxHostReport, MxReport, Reason};

/// What our probe saw at one MX host, in the terms a sender's report compares with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeView {
    /// DANE applies and every endpoint evaluated authenticated.
    Authenticated,
    /// DANE applies and some endpoint failed authentication, or the TLSA lookup failed.
    Failing,
    /// Nothing to compare: no DANE, or no endpoint evaluated.
    Unknown,
}

impl ProbeView {
    /// Our probe's view of `host`.
    pub fn of(host: &MxHostReport) -> Self {
        if host.dane == HostDane::TlsaLookupFailed {
            return ProbeView::Failing;
        }
        if host.dane != HostDane::Applies {
            return ProbeView::Unknown;
        }
        let outcomes: Vec<&EndpointOutcome> = host
            .endpoints
            .iter()
            .filter_map(|e| e.evaluation.as_ref().map(|v| &v.outcome))
            .collect();
        if outcomes
            .iter()
            .any(|o| matches!(o, EndpointOutcome::Failed(_)))
        {
            ProbeView::Failing
        } else if !outcomes.is_empty()
            && outcomes
                .iter()
                .all(|o| matches!(o, EndpointOutcome::Authenticated { .. }))
        {
            ProbeView::Authenticated
        } else {
            ProbeView::Unknown
        }
    }

    /// Stable text for the human report.
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeView::Authenticated => "authenticated",
            ProbeView::Failing => "failing",
            ProbeView::Unknown => "no DANE verdict",
        }
    }
}

/// The findings where the senders' recent view and this probe's MX facts disagree.
pub fn correlate(mx: &MxReport, view: &SendersView) -> Vec<Finding> {
    let mut findings = Vec::new();
    for host in &mx.hosts {
        let name = host.name.trim_end_matches('.').to_ascii_lowercase();
        let reported: Vec<_> = view
            .failures_at(&name)
            .iter()
            .filter(|f| f.result_type.comparable_with_probe(f.policy_type))
            .collect();
        let failed: u64 = reported.iter().map(|f| f.sessions).sum();
        match ProbeView::of(host) {
            ProbeView::Authenticated if failed > 0 => {
                let kinds: Vec<String> = reported.iter().map(ToString::to_string).collect();
                findings.push(
                    Finding::new(
                        Reason::TlsRptFailuresProbePasses,
                        format!(
                            "senders report {failed} failed sessions on {name} in their latest \
                             reports ({}), but this probe authenticates it: their view differs \
                             (another resolver, address family or network path)",
                            kinds.join("; ")
                        ),
                    )
                    .at_mx(&name),
                );
            }
            ProbeView::Failing if failed == 0 && view.dane_successful_sessions > 0 => {
                let named = view.dane_mx_hosts.iter().any(|h| h == &name);
                if named || (view.dane_mx_hosts.is_empty() && mx.hosts.len() == 1) {
                    findings.push(
                        Finding::new(
                            Reason::TlsRptSuccessProbeFails,
                            format!(
                                "this probe fails on {name}, but senders ({}) report {} \
                                 DANE-authenticated sessions and no failure there in their \
                                 latest reports: this probe's view differs (its resolver, \
                                 address family or network path)",
                                view.organizations.join(", "),
                                view.dane_successful_sessions
                            ),
                        )
                        .at_mx(&name),
                    );
                }
            }
            _ => {}
        }
    }
    findings
}

/// One MX host seen from both sides: our probe's view and the senders' failures there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostComparison {
    /// The host (normalised); empty for failures senders named no host for.
    pub mx: String,
    /// Our probe's view; `None` for a host senders named that is not among the MX hosts.
    pub probe: Option<ProbeView>,
    /// The senders' failures there.
    pub failures: Vec<super::view::FailureCount>,
}

/// Every MX host of `mx` with the failures `view` holds for it, then the hosts senders named that
/// the MX lookup did not return: what `check` prints and a status page would show side by side.
pub fn side_by_side(mx: &MxReport, view: &SendersView) -> Vec<HostComparison> {
    let mut rows: Vec<HostComparison> = mx
        .hosts
        .iter()
        .map(|host| {
            let name = host.name.trim_end_matches('.').to_ascii_lowercase();
            HostComparison {
                failures: view.failures_at(&name).to_vec(),
                probe: Some(ProbeView::of(host)),
                mx: name,
            }
        })
        .collect();
    for host in &view.hosts {
        if !rows.iter().any(|r| r.mx == host.mx) {
            rows.push(HostComparison {
                mx: host.mx.clone(),
                probe: None,
                failures: host.failures.clone(),
            });
        }
    }
    rows
}
