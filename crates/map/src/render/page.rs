//! The page around the plan: head, inline CSS (Okabe–Ito colours, focus outlines), the details
//! panel and the inline script (details on hover/focus; in live mode, server-sent events from
//! `/events` that replace the plan in place and keep the focused element focused).

use std::fmt::Write;

use super::{Options, esc};

/// Write the whole page with `body` (from [`super::render_plan`]) as the plan.
pub fn wrap(out: &mut String, title: &str, body: &str, opts: Options) {
    let live = if opts.live {
        r#"<span id="live" role="status">live</span>"#
    } else {
        r#"<span id="live">snapshot</span>"#
    };
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>sixfold map — {title}</title><style>{CSS}</style></head><body><header><h1>sixfold map <small>{title}</small> {live}</h1></header><div id="wrap"><main id="plan" data-rev="{rev}" aria-label="IPv6 address plan">{body}</main><aside aria-label="details"><h2>Details</h2><div id="dt" aria-live="polite">Hover an element, or move to one with Tab, to see its details here.</div></aside></div><script>const LIVE={live_flag};{JS}</script></body></html>"#,
        title = esc(title),
        rev = opts.rev,
        live_flag = opts.live,
    );
}

const CSS: &str = r#"
body{margin:0;font:14px/1.4 system-ui,sans-serif;color:#111;background:#fff}
header{padding:4px 16px;border-bottom:1px solid #bbb}
h1{font-size:18px;margin:4px 0}h1 small{font-weight:normal;color:#333}
#live{font-size:12px;border:1px solid #555;border-radius:3px;padding:0 4px;margin-left:8px}
#wrap{display:flex;align-items:flex-start}
main{flex:1;min-width:0;padding:4px 12px;overflow-x:auto}
aside{width:300px;flex:none;position:sticky;top:0;max-height:100vh;overflow:auto;padding:4px 12px;border-left:1px solid #bbb;font:12px/1.5 ui-monospace,'DejaVu Sans Mono',monospace;word-break:break-all}
aside h2{font:bold 14px system-ui,sans-serif;margin:4px 0}
#drawing{max-width:100%;height:auto;display:block}
svg text{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:11px;fill:#111}
.legend{max-width:100%;height:auto;display:block;margin:4px 0}
.h{font-size:13px;font-weight:bold}.b{font-weight:bold}svg .s{fill:#333;font-size:10px}.p80{fill:#00573f;font-weight:bold}
.vpc{fill:#f3f7fb;stroke:#0072B2;stroke-width:2}
.sub{fill:#e6f3fb;stroke:#56B4E9;stroke-width:1.5}
.nd{fill:#fff;stroke:#009E73;stroke-width:1.5}
.cl{fill:#fffbe3;stroke:#8a7a00;stroke-width:1.5;stroke-dasharray:6 3}
.inet rect{fill:#f4f4f4;stroke:#555}
.ruler{fill:#fff;stroke:#666}
.m-sub{fill:#56B4E9;stroke:#0072B2}.m-node{fill:#009E73}.m-none{fill:#999}.m-fg{fill:#CC79A7}.m-dns{fill:#000}.m-svc{fill:#0072B2}
.lens{fill:#56B4E9;fill-opacity:.14;stroke:#56B4E9;stroke-opacity:.6}
.pc,.podcells{fill:#E69F00}.pc{stroke:#7a5200}.fg{fill:#CC79A7;stroke:#6b3357}.dns{fill:#000}.sv{fill:#0072B2}
.igw{fill:#0072B2;stroke:#000}.eigw{fill:#E69F00;stroke:#000}
.sgc{fill:#fff;stroke:#555}.bad{stroke:#D55E00;stroke-width:3}.fbg{fill:#fff;stroke:#D55E00}
.egress rect{stroke:#555;stroke-dasharray:3 2}
.fault{fill:none;stroke:#D55E00;stroke-width:3;stroke-dasharray:9 4}
.mark polygon,.mk{fill:#D55E00;stroke:#000}.bang{fill:#fff;font-weight:bold;text-anchor:middle;font-size:12px}
svg .ft,svg .fi{fill:#a33a00;font-weight:bold}
g[tabindex]{cursor:pointer}g[tabindex]:focus{outline:none}
g[tabindex]:focus>rect:first-child,g[tabindex]:focus>polygon:first-child,g.sel>rect:first-child{stroke:#000;stroke-width:3.5}
rect[tabindex]:focus{stroke:#000;stroke-width:3}
table{border-collapse:collapse;margin:8px 0;font:12px ui-monospace,'DejaVu Sans Mono',monospace}
td,th{border:1px solid #bbb;padding:1px 6px;text-align:left}caption{text-align:left;font:bold 13px system-ui,sans-serif}
.fid{color:#fff;background:#a33a00;padding:0 4px;font-weight:bold}#findings{padding-left:18px}#findings li{margin:3px 0}
.ok{color:#00573f}
details.pods summary{font:12px ui-monospace,monospace}pre{font-size:11px;margin:2px 0 6px 12px}
#counts{margin:4px 0}
"#;

const JS: &str = r#"
(function(){
const dt=document.getElementById('dt');
function lines(ls){dt.textContent='';for(const l of ls){const d=document.createElement('div');d.textContent=l;dt.appendChild(d);}}
let sel=null;
function show(el){if(!el)return;const d=el.getAttribute('data-d');if(d===null)return;lines(d.split('\n'));if(sel)sel.classList.remove('sel');sel=el;el.classList.add('sel');}
function podAt(c,e){const m=c.getScreenCTM();if(!m)return;const pt=c.ownerSVGElement.createSVGPoint();pt.x=e.clientX;pt.y=e.clientY;const p=pt.matrixTransform(m.inverse());const cs=+c.dataset.c,n=+c.dataset.n;const col=Math.floor((p.x-c.dataset.x)/cs),row=Math.floor((p.y-c.dataset.y)/cs);if(col<0||col>=n||row<0)return;const pre=document.getElementById('pods-'+c.dataset.node);if(!pre)return;const l=pre.textContent.split('\n')[row*n+col];if(l)lines(['pod '+l.split(' ')[0],'IPv6 '+l.split(' ')[1],'IPv4 '+l.split(' ')[2]+' (node-local egress)']);}
document.addEventListener('focusin',e=>show(e.target.closest&&e.target.closest('[data-d]')));
document.addEventListener('mouseover',e=>{if(!e.target.closest)return;if(e.target.closest('.podcells'))return;show(e.target.closest('[data-d]'));});
document.addEventListener('mousemove',e=>{const c=e.target.closest&&e.target.closest('.podcells');if(c)podAt(c,e);});
if(LIVE){
  const st=document.getElementById('live');
  let es;
  function connect(){
    es=new EventSource('/events?since='+(document.getElementById('plan').dataset.rev||0));
    es.onopen=()=>{st.textContent='live';};
    es.onmessage=ev=>{
      const m=JSON.parse(ev.data);
      const f=document.activeElement&&document.activeElement.getAttribute('aria-label');
      const plan=document.getElementById('plan');
      plan.innerHTML=m.html;
      plan.dataset.rev=m.rev;
      st.textContent='live · updated '+new Date().toLocaleTimeString();
      if(f){for(const el of plan.querySelectorAll('[aria-label]')){if(el.getAttribute('aria-label')===f){el.focus();break;}}}
    };
    es.onerror=()=>{st.textContent='live · reconnecting';};
  }
  connect();
}
void document.body.offsetHeight;
document.documentElement.dataset.ready=Math.round(performance.now());
})();
"#;
