/** The console's one stylesheet, served as `/assets/console.css`: no framework, no build step. */
export const CONSOLE_CSS = `
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--bg:#fff;--ok:#1a7f37;--ok-bg:#dafbe1;--bad:#cf222e;--bad-bg:#ffebe9;
--run:#0969da;--run-bg:#ddf4ff;--wait:#9a6700;--wait-bg:#fff8c5;--off:#59636e;--off-bg:#eff2f5;--accent:#0969da;--green:#2da44e;--blue:#8c959f}
*{box-sizing:border-box}
html{background:var(--soft)}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg)}
a{color:var(--accent)}a:focus-visible,button:focus-visible,input:focus-visible,textarea:focus-visible,summary:focus-visible{outline:3px solid #0969da;outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem}.skip:focus{left:.5rem}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
header.top{display:flex;align-items:center;gap:1rem;padding:.6rem 1.5rem;background:#1f2328;color:#fff}
header.top a{color:#fff;text-decoration:none;font-weight:600}
header.top .brand{font-size:1.1rem;letter-spacing:.02em}
header.top .where{color:#d1d9e0;font-size:.9rem}
header.top nav{flex:1}header.top nav ol{list-style:none;display:flex;gap:.4rem;margin:0;padding:0;flex-wrap:wrap}
header.top nav li+li::before{content:"/";color:#9198a1;margin-right:.4rem}
.live{font-size:.85rem;color:#d1d9e0;display:flex;align-items:center;gap:.35rem}
.live::before{content:"";width:.55rem;height:.55rem;border-radius:50%;background:#9198a1}
.live[data-state=live]::before{background:#4ac26b;box-shadow:0 0 0 3px rgba(74,194,107,.3)}
.live[data-state=lost]::before{background:#ff8182}
main{max-width:1280px;margin:0 auto;padding:1.2rem 1.5rem 3rem}
h1{font-size:1.5rem;margin:.2rem 0 .3rem;display:flex;align-items:center;gap:.7rem;flex-wrap:wrap}
h2{font-size:1.1rem;margin:0 0 .7rem}
h3{font-size:.95rem;margin:0}
.sub{color:var(--muted);margin:0 0 1rem;display:flex;gap:1rem;flex-wrap:wrap}
.panel{background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:1rem 1.1rem;margin:0 0 1.1rem}
.panel>header{display:flex;align-items:center;justify-content:space-between;gap:1rem;margin-bottom:.7rem}.panel>header h2{margin:0}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:1.1rem}
.pill{display:inline-flex;align-items:center;gap:.35rem;border-radius:999px;padding:.05rem .6rem;font-size:.82rem;font-weight:600;white-space:nowrap;border:1px solid transparent}
.t-ok{color:var(--ok);background:var(--ok-bg)}.t-bad{color:var(--bad);background:var(--bad-bg)}.t-run{color:#0550ae;background:var(--run-bg)}
.t-wait{color:var(--wait);background:var(--wait-bg)}.t-off{color:var(--off);background:var(--off-bg)}.t-none{color:var(--muted);background:var(--bg);border-color:var(--line)}
h1 .pill{font-size:.95rem;padding:.15rem .8rem}
.spin{width:.7rem;height:.7rem;border-radius:50%;border:2px solid currentColor;border-right-color:transparent;animation:spin 1s linear infinite;display:inline-block}
@keyframes spin{to{transform:rotate(360deg)}}
@media (prefers-reduced-motion:reduce){.spin{animation:none}}
/* stage graph */
.stages{list-style:none;margin:0;padding:.2rem 0 .4rem;display:flex;align-items:stretch;overflow-x:auto;gap:0}
.stage{flex:1 1 12rem;min-width:11.5rem;max-width:20rem;background:var(--bg);border:1px solid var(--line);border-top:5px solid var(--line);border-radius:10px;padding:.6rem .75rem}
.stage.t-ok{border-top-color:var(--green)}.stage.t-bad{border-top-color:var(--bad)}.stage.t-run{border-top-color:var(--run)}.stage.t-wait{border-top-color:#d4a72c}.stage.t-off{border-top-color:#8c959f}
.stage.t-ok,.stage.t-bad,.stage.t-run,.stage.t-wait,.stage.t-off,.stage.t-none{background:var(--bg)}
.stage>header{display:flex;justify-content:space-between;align-items:center;gap:.5rem;margin-bottom:.45rem}
.stage ul{list-style:none;margin:0;padding:0;display:grid;gap:.35rem}
.act{border:1px solid var(--line);border-radius:8px;padding:.35rem .5rem;background:var(--soft)}
.act .row{display:flex;align-items:center;gap:.4rem;justify-content:space-between}
.act .name{font-weight:600}.act .kind{color:var(--muted);font-size:.8rem}
.act .meta{color:var(--muted);font-size:.8rem;display:flex;gap:.6rem;flex-wrap:wrap}
.act .err{color:var(--bad);font-size:.82rem;margin-top:.2rem;overflow-wrap:anywhere}
.held{color:var(--wait);background:var(--wait-bg);border-radius:6px;font-size:.82rem;padding:.2rem .45rem;margin:0 0 .45rem}
.skipped{color:var(--muted);font-size:.82rem;font-style:italic;margin:0 0 .45rem}
.arrow{flex:0 0 3.6rem;display:flex;flex-direction:column;align-items:center;justify-content:center;padding:0 .25rem;gap:.3rem}
.arrow .tctl{position:relative}.arrow .tctl[open]>form{position:absolute;z-index:2;top:1.9rem;left:50%;transform:translateX(-50%);width:15rem;background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6rem;box-shadow:0 8px 24px rgba(31,35,40,.15)}
.arrow summary{list-style:none}.arrow summary::-webkit-details-marker{display:none}
.arrow .line{display:block;width:100%;height:2px;background:#8c959f;position:relative}
.arrow .line::after{content:"";position:absolute;right:-1px;top:-5px;border:6px solid transparent;border-left:8px solid #8c959f;border-right:0}
.arrow.off .line{background:repeating-linear-gradient(90deg,var(--bad) 0 6px,transparent 6px 10px)}.arrow.off .line::after{border-left-color:var(--bad)}
.arrow .lock{font-size:.75rem;color:var(--bad);text-align:center;max-width:6rem;overflow-wrap:anywhere}
.arrow form{margin:0}
/* buttons and forms */
button,.btn{font:inherit;font-size:.85rem;font-weight:600;border-radius:6px;border:1px solid #d1d9e0;background:#f6f8fa;color:#1f2328;padding:.3rem .75rem;cursor:pointer}
button:hover{background:#eef1f4}
button.primary{background:#1f883d;border-color:#1a7f37;color:#fff}button.primary:hover{background:#1a7f37}
button.danger{color:#a40e26;border-color:#d1d9e0}button.danger:hover{background:#ffebe9}
button.small{font-size:.75rem;padding:.1rem .45rem}
.actions{display:flex;gap:.5rem;flex-wrap:wrap;align-items:center;margin:0 0 1rem}
.actions form{margin:0;display:flex;gap:.4rem;align-items:center}
label{font-weight:600;font-size:.85rem;display:block;margin-bottom:.2rem}
input[type=text],input[type=email],textarea{font:inherit;width:100%;border:1px solid #8c959f;border-radius:6px;padding:.35rem .5rem;background:#fff;color:#1f2328}
textarea{min-height:3.2rem;resize:vertical}
.field{margin-bottom:.6rem}.hint{color:var(--muted);font-size:.8rem;margin:.15rem 0 0}
.notice{border-radius:8px;padding:.6rem .8rem;margin-bottom:1rem;font-weight:600}.notice.bad{background:var(--bad-bg);color:#a40e26}.notice.ok{background:var(--ok-bg);color:var(--ok)}
/* tables */
table{border-collapse:collapse;width:100%;font-size:.9rem}
th{text-align:left;color:var(--muted);font-weight:600;font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;border-bottom:1px solid var(--line);padding:.35rem .6rem .35rem 0}
td{border-bottom:1px solid #eaeef2;padding:.4rem .6rem .4rem 0;vertical-align:top}
tbody tr:hover{background:#f6f8fa}
.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em}
.commit{background:var(--soft);border:1px solid var(--line);border-radius:5px;padding:0 .3rem}
/* pipelines list */
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:1rem;list-style:none;padding:0;margin:0 0 1.2rem}
.card{background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:1rem}
.card h2{display:flex;justify-content:space-between;align-items:center;gap:.5rem}.card h2 a{text-decoration:none;color:var(--fg)}.card h2 a:hover{text-decoration:underline}
.strip{display:flex;gap:3px;margin:.6rem 0 .5rem;list-style:none;padding:0}
.strip li{flex:1;height:.55rem;border-radius:3px;background:#d1d9e0}
.strip li.t-ok{background:var(--green)}.strip li.t-bad{background:var(--bad)}.strip li.t-run{background:var(--run)}.strip li.t-wait{background:#d4a72c}.strip li.t-off{background:#8c959f}
.strip-labels{display:flex;gap:3px;font-size:.72rem;color:var(--muted)}.strip-labels span{flex:1;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.card .meta{color:var(--muted);font-size:.85rem;display:flex;gap:.8rem;flex-wrap:wrap;margin-top:.4rem}
/* builds */
.tests{display:flex;gap:.8rem;align-items:center;flex-wrap:wrap;margin:.4rem 0}
.failures{margin:.3rem 0 0;padding-left:1.1rem;font-size:.85rem}.failures li{margin-bottom:.2rem}.failures .msg{color:var(--muted);display:block}
pre.log{background:#0d1117;color:#e6edf3;border-radius:8px;padding:.7rem .8rem;max-height:26rem;overflow:auto;font-size:.8rem;line-height:1.45;margin:.4rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere}
details>summary{cursor:pointer;font-weight:600}
details.build{border-top:1px solid var(--line);padding:.6rem 0}details.build:first-of-type{border-top:0}
details.build>summary{display:flex;gap:.6rem;align-items:center;flex-wrap:wrap}
.approval{border:1px solid var(--line);border-left:5px solid #d4a72c;border-radius:8px;padding:.7rem .9rem;margin-bottom:.7rem}
.approval.t-ok{border-left-color:var(--green)}.approval.t-bad{border-left-color:var(--bad)}.approval.t-off{border-left-color:#8c959f}
.approval>header{display:flex;gap:.6rem;align-items:center;flex-wrap:wrap}
.approval blockquote{margin:.4rem 0;padding:.3rem .7rem;border-left:3px solid var(--line);color:var(--fg);background:var(--soft)}
/* charts */
figure{margin:0}figcaption{color:var(--muted);font-size:.85rem;margin-top:.3rem}
svg.chart{width:100%;height:auto;display:block}
svg.chart.phasebar{height:.9rem;border-radius:4px;margin:.3rem 0 .6rem}svg.chart.testbar{width:10rem;height:.6rem;border-radius:3px;background:#eaeef2}
svg.chart text{font:12px system-ui,sans-serif;fill:#59636e}
svg.chart .lbl{fill:#1f2328;font-weight:600}
svg.chart .grid{stroke:#eaeef2}
svg.chart .bar-ok{fill:#2da44e}svg.chart .bar-bad{fill:#cf222e}svg.chart .bar-run{fill:#0969da}svg.chart .bar-off{fill:#8c959f}svg.chart .bar-wait{fill:#d4a72c}
svg.chart .area{fill:rgba(45,164,78,.18)}svg.chart .wline{fill:none;stroke:#1a7f37;stroke-width:2.5}
svg.chart .planned{fill:none;stroke:#8c959f;stroke-width:1.5;stroke-dasharray:4 4}
svg.chart .pt{fill:#fff;stroke:#1a7f37;stroke-width:2.5}
svg.chart .chk-ok{fill:#1a7f37}svg.chart .chk-bad{fill:#cf222e}
svg.chart .rb{stroke:#cf222e;stroke-width:2;stroke-dasharray:5 3}svg.chart .rbt{fill:#cf222e;font-weight:600}
.legend{display:flex;gap:1rem;flex-wrap:wrap;font-size:.8rem;color:var(--muted);margin-top:.3rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;border-radius:2px;vertical-align:-2px;margin-right:.25rem}
.legend .lg-g{background:#2da44e}.legend .lg-ok{background:#1a7f37;border-radius:50%}.legend .lg-bad{background:#cf222e;border-radius:50%}
.empty{color:var(--muted);font-style:italic}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}.kv dt{font-weight:600}.kv dd{margin:0;overflow-wrap:anywhere}
`;
