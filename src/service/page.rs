//! The status page: server-rendered HTML (no JavaScript), everything escaped.

use super::{Health, target_key};
use crate::parca::ParcaTarget;
use crate::reconcile::snapshot::BrokerSnapshot;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// HTML-escapes text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Unix seconds → (year, month, day, hour, minute, second) in UTC (civil-from-days).
fn civil(unix: u64) -> (i64, i64, i64, u64, u64, u64) {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Unix seconds → `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(unix: u64) -> String {
    let (year, month, day, h, m, s) = civil(unix);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02} UTC")
}

/// Unix seconds → RFC 3339 (`YYYY-MM-DDTHH:MM:SSZ`), as Parca's APIs take timestamps.
pub fn rfc3339(unix: u64) -> String {
    let (year, month, day, h, m, s) = civil(unix);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:16px 28px;display:flex;align-items:center;gap:16px;flex-wrap:wrap}
header h1{font-size:20px;margin:0;font-weight:600}
main{padding:20px 28px;max-width:1300px}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:14px 18px;margin-bottom:18px}
h2{font-size:16px;margin:0 0 10px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eceff3;vertical-align:top}
th{color:#5b6475;font-weight:600}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.pill{display:inline-block;border-radius:999px;padding:2px 10px;font-size:12px;font-weight:600}
.active,.up{background:#d8f5e3;color:#0f6b35}.blocked,.down{background:#fde0e0;color:#9b1c1c}
.waiting,.maintenance,.unknown{background:#fdf1d6;color:#7a5200}
.label{display:inline-block;background:#eef1f6;border-radius:4px;padding:1px 6px;margin:1px 2px;font-size:11px}
.summary{display:flex;gap:28px;flex-wrap:wrap}.summary div{font-size:13px;color:#5b6475}.summary b{display:block;font-size:22px;color:#1d2330}
pre{background:#f3f5f8;padding:10px;border-radius:6px;overflow:auto;font-size:12px;max-height:420px}
.muted{color:#8a93a3}
";

/// The whole page.
pub fn render(
    snapshot: Option<&BrokerSnapshot>,
    health: &BTreeMap<String, Health>,
    parca: &Result<BTreeMap<String, ParcaTarget>, String>,
    last_reconcile: Option<u64>,
) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>parca-broker</title><style>{STYLE}</style></head><body>"
    );
    let Some(s) = snapshot else {
        let _ = write!(
            html,
            "<header><h1>parca-broker</h1><span class=\"pill waiting\">no state yet</span></header><main><section><p id=\"no-state\">The charm has not reconciled yet: no state file.</p></section></main></body></html>"
        );
        return html;
    };
    let targets: usize = s
        .jobs
        .iter()
        .flat_map(|j| &j.groups)
        .map(|g| g.targets.len())
        .sum();
    let apps: std::collections::BTreeSet<&str> = s.jobs.iter().map(|j| j.app.as_str()).collect();
    let up = health.values().filter(|h| h.up).count();
    let _ = write!(
        html,
        "<header><h1>parca-broker</h1><span class=\"mono\">{} · model {}</span><span id=\"status\" class=\"pill {}\">{}</span><span>{}</span></header><main>",
        escape(&s.unit),
        escape(&s.model),
        escape(&s.status.status),
        escape(&s.status.status),
        escape(&s.status.message)
    );
    let _ = write!(
        html,
        "<section><div class=\"summary\"><div><b id=\"count-targets\">{targets}</b>targets</div><div><b>{}</b>apps</div><div><b>{}</b>jobs</div><div><b id=\"count-up\">{up}</b>up</div><div><b id=\"count-down\">{}</b>down</div><div><b id=\"count-dropped\">{}</b>dropped</div><div><b id=\"last-reconcile\">{}</b>last reconcile</div></div></section>",
        apps.len(),
        s.jobs.len(),
        health.len() - up,
        s.dropped.len(),
        last_reconcile.map_or_else(|| "never".to_owned(), utc)
    );
    // Store.
    let _ = write!(
        html,
        "<section id=\"store\"><h2>Upstream store</h2><table><tr><th>source</th><td>{}</td></tr><tr><th>address</th><td class=\"mono\">{}</td></tr><tr><th>insecure</th><td>{}</td></tr><tr><th>token</th><td>{}</td></tr></table></section>",
        escape(&s.store.source),
        escape(&s.store.address),
        escape(&s.store.insecure),
        escape(&s.store.token)
    );
    // The broker's units and their shares (only with several).
    if s.shard.units.len() > 1 {
        let _ = write!(
            html,
            "<section id=\"shard\"><h2>Shard ({} units, {} targets)</h2><table><tr><th>unit</th><th>address</th><th>targets</th></tr>",
            s.shard.units.len(),
            s.shard.total
        );
        for member in &s.shard.units {
            let _ = write!(
                html,
                "<tr class=\"shard-row\"><td class=\"mono\">{}{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                escape(&member.unit),
                if member.unit == s.unit {
                    " (this unit)"
                } else {
                    ""
                },
                escape(&member.address),
                member.targets
            );
        }
        html.push_str("</table></section>");
    }
    // COS: who scrapes our /metrics and loads our dashboard (only when related).
    if !s.cos.metrics_endpoint.is_empty() || !s.cos.grafana_dashboard.is_empty() {
        let _ = write!(
            html,
            "<section id=\"cos\"><h2>COS</h2><table><tr><th>metrics-endpoint</th><td>{}</td></tr><tr><th>scraped at</th><td class=\"mono\">{}</td></tr><tr><th>alert rule groups</th><td class=\"mono\">{}</td></tr><tr><th>grafana-dashboard</th><td>{}</td></tr><tr><th>dashboards</th><td class=\"mono\">{}</td></tr></table></section>",
            escape(&s.cos.metrics_endpoint.join(", ")),
            escape(&s.cos.metrics_address),
            escape(&s.cos.alert_rule_groups.join(", ")),
            escape(&s.cos.grafana_dashboard.join(", ")),
            escape(&s.cos.dashboards.join(", "))
        );
    }
    // The managed Parca.
    let (parca_class, parca_word) = match (&s.parca.managed, parca) {
        (false, _) => ("unknown", "not managed"),
        (true, Ok(_)) => ("up", "managed"),
        (true, Err(_)) => ("down", "not answering"),
    };
    let _ = write!(
        html,
        "<section id=\"parca\"><h2>Parca <span class=\"pill {parca_class}\">{parca_word}</span></h2><table><tr><th>binary</th><td class=\"mono\">{}</td></tr><tr><th>address</th><td class=\"mono\">{}</td></tr><tr><th>mode</th><td>{}</td></tr><tr><th>last hook saw</th><td>{}</td></tr>{}</table></section>",
        escape(&s.parca.binary),
        escape(&s.parca.http_address),
        escape(&s.parca.mode),
        escape(&s.parca.summary),
        match parca {
            Err(err) if s.parca.managed => format!(
                "<tr><th>targets API</th><td id=\"parca-error\">{}</td></tr>",
                escape(err)
            ),
            _ => String::new(),
        }
    );
    // Dropped.
    if !s.ignored.is_empty() {
        let _ = write!(
            html,
            "<section id=\"ignored\"><h2>Ignored job keys ({})</h2><p class=\"muted\">Keys parca_scrape does not carry (the Python library drops them too): they have no effect.</p><ul>",
            s.ignored.len()
        );
        for line in &s.ignored {
            let _ = write!(html, "<li class=\"mono\">{}</li>", escape(line));
        }
        html.push_str("</ul></section>");
    }
    let _ = write!(
        html,
        "<section id=\"dropped\"><h2>Dropped ({})</h2>",
        s.dropped.len()
    );
    if s.dropped.is_empty() {
        html.push_str("<p class=\"muted\">Nothing dropped: every job from every relation is in parca.yaml.</p>");
    } else {
        html.push_str("<table><tr><th>what</th><th>relation</th><th>app</th><th>where</th><th>reason</th></tr>");
        for d in &s.dropped {
            let _ = write!(
                html,
                "<tr class=\"dropped-row\"><td><span class=\"pill blocked\">{}</span></td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                escape(&d.scope),
                escape(&d.relation),
                escape(&d.app),
                escape(&d.key),
                escape(&d.reason)
            );
        }
        html.push_str("</table>");
    }
    html.push_str("</section>");
    // Targets.
    let _ = write!(
        html,
        "<section id=\"targets\"><h2>Targets ({targets})</h2><table><tr><th>health</th><th>target</th><th>job</th><th>app</th><th>unit</th><th>labels</th><th>last error</th><th>latency</th><th>parca</th><th>scraped by</th></tr>"
    );
    let parca_targets = parca.as_ref().ok();
    for job in &s.jobs {
        for group in &job.groups {
            for target in group.targets.iter() {
                let key = target_key(&job.name, target);
                let h = health.get(&key);
                let parca_cell = match parca_targets.and_then(|p| p.get(&key)) {
                    Some(t) => format!(
                        "<span class=\"pill {}\">{}</span> {} {}",
                        match t.health.as_str() {
                            "good" => "up",
                            "bad" => "down",
                            _ => "unknown",
                        },
                        escape(&t.health),
                        escape(&t.last_scrape),
                        escape(&t.last_error)
                    ),
                    None if s.parca.managed => "not in Parca yet".to_owned(),
                    None => "—".to_owned(),
                };
                let (class, word) = match h {
                    Some(h) if h.up => ("up", "up"),
                    Some(_) => ("down", "down"),
                    None => ("unknown", "not probed yet"),
                };
                let labels: String = group
                    .labels
                    .iter()
                    .map(|(k, v)| {
                        format!("<span class=\"label\">{}={}</span>", escape(k), escape(v))
                    })
                    .collect();
                let _ = write!(
                    html,
                    "<tr class=\"target-row\" data-health=\"{class}\"><td><span class=\"pill {class}\">{word}</span></td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{labels}</td><td>{}</td><td>{}</td><td class=\"parca-cell\">{parca_cell}</td><td class=\"mono\">{}</td></tr>",
                    escape(target),
                    escape(&job.name),
                    escape(&job.app),
                    escape(group.unit.as_deref().unwrap_or("—")),
                    escape(h.and_then(|h| h.last_error.as_deref()).unwrap_or("")),
                    h.map_or_else(String::new, |h| format!("{} ms", h.latency_ms)),
                    escape(group.owner.as_deref().unwrap_or(&s.unit)),
                );
            }
        }
    }
    html.push_str("</table></section>");
    // Jobs.
    let _ = write!(
        html,
        "<section id=\"jobs\"><h2>Jobs ({})</h2><table><tr><th>job</th><th>app</th><th>relation</th><th>scheme</th><th>path prefix</th><th>targets</th></tr>",
        s.jobs.len()
    );
    for job in &s.jobs {
        let _ = write!(
            html,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            escape(&job.name),
            escape(&job.app),
            escape(&job.relation),
            escape(&job.scheme),
            escape(&job.path_prefix),
            job.groups.iter().map(|g| g.targets.len()).sum::<usize>()
        );
    }
    html.push_str("</table></section>");
    // Relations.
    let _ = write!(
        html,
        "<section id=\"relations\"><h2>Related applications</h2><table><tr><th>relation</th><th>app</th><th>units</th></tr>"
    );
    for r in &s.relations {
        let _ = write!(
            html,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.relation),
            escape(&r.app),
            escape(&r.units.join(", "))
        );
    }
    html.push_str("</table></section>");
    let _ = write!(
        html,
        "<section id=\"config\"><h2>parca.yaml <span class=\"muted mono\">{} · discovery {}</span></h2><pre>{}</pre><p class=\"muted\">JSON: <a href=\"/api/v1/targets\">targets</a> · <a href=\"/api/v1/jobs\">jobs</a> · <a href=\"/api/v1/config\">config</a> · <a href=\"/api/v1/store\">store</a> · <a href=\"/api/v1/status\">status</a> · <a href=\"/metrics\">metrics</a></p></section>",
        escape(&s.config_file),
        escape(&s.discovery),
        escape(&s.parca_yaml)
    );
    html.push_str("</main></body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_formats_time() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_795_349_645), "2026-11-22 12:14:05 UTC"); // checked with `date -u -d @1795349645`
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(rfc3339(1_795_349_645), "2026-11-22T12:14:05Z");
    }
}
