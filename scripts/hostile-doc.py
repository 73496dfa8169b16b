#!/usr/bin/env python3
# Regenerates docs/hostile-inputs.md from the class list in tests/hostile.rs (the test fails
# when a class is missing from the doc). Run from the repository root.
import re
s=open('tests/hostile.rs').read()
body=s[s.index('fn classes()'):s.index('/// Letters for the n-th')]
out=[]
i=0
while True:
    m=re.compile(r'\n\s*// ([^\n]*)|\bc\(\s*"').search(body,i)
    if not m: break
    if m.group(1) is not None:
        out.append(('section',m.group(1))); i=m.end(); continue
    # parse string literal
    j=m.end(); name=''
    while body[j]!='"':
        if body[j]=='\\': name+=body[j:j+2]; j+=2
        else: name+=body[j]; j+=1
    # balanced scan from after c(
    depth=1; k=m.start()+2; instr=False; raw=False
    start=k
    while depth>0:
        ch=body[k]
        if instr:
            if ch=='\\': k+=2; continue
            if ch=='"': instr=False
        elif body.startswith('r#"',k):
            e=body.index('"#',k+3); k=e+2; continue
        elif ch=='"': instr=True
        elif ch=='(' : depth+=1
        elif ch==')': depth-=1
        k+=1
    call=body[start:k-1]
    exp=call.rstrip().rstrip(',').rsplit(',',1)[-1].strip()
    # expectation could contain comma inside string; handle via regex on tail
    mm=re.search(r'(Dropped|Refused|Rendered|KeyIgnored)\("((?:[^"\\]|\\.)*)"\)\s*,?\s*$|(Accepted|Ignored)\s*,?\s*$',call.rstrip())
    if mm.group(3): kind,arg=mm.group(3),None
    else: kind,arg=mm.group(1),mm.group(2)
    out.append(('class',name,kind,arg)); i=k
n=sum(1 for o in out if o[0]=='class')
lines=["# Hostile inputs","",
"The classes of bad remote data `tests/hostile.rs` runs through the real hook under the simulator",
"(one new related application, or the upstream store's bag, per class). For every class: every",
"hook exits 0; parca.yaml passes `check-config`; the other provider's targets are still rendered;",
"the agents' databag and the flag files keep the last good store; removing the data returns the",
"unit to `active`. The test fails if a class is missing here (regenerate this file with",
"`scripts/hostile-doc.py`).","",
"Outcomes:","",
"- **dropped `key`**: a report on that relation naming relation id, app and the key (path), and a",
"  blocked status naming the relation and app; the rest renders.",
"- **refused `key`**: the store settings are neither relayed nor written; blocked status naming",
"  the source relation and the key.",
"- **rendered `value`**: no report; the value reaches parca.yaml escaped and reads back unchanged.",
"- **key ignored**: the job renders; the protocol drops the key, listed (debug level) in",
"  `ignored` of show-config, `/api/v1/status` and the page.",
"- **accepted**: rendered as the Python library renders it, without a report: odd but harmless",
"  (escaped in YAML, loads in the real Parca).",
"- **ignored**: data the broker does not read; nothing changes.","",
f"{n} classes."]
for o in out:
    if o[0]=='section':
        t=o[1]; lines += ["", f"## {t[0].upper()+t[1:]}", "", "| class | outcome |", "| --- | --- |"]; continue
    _,name,kind,arg=o
    outcome={'Dropped':f'dropped `{arg}`','Refused':f'refused `{arg}`','Rendered':f'rendered `{arg}`','KeyIgnored':f'key ignored `{arg}`','Accepted':'accepted','Ignored':'ignored'}[kind]
    name=name.replace('\\"','"').replace('|','\\|')
    lines.append(f"| {name} | {outcome} |")
open('docs/hostile-inputs.md','w').write('\n'.join(lines)+'\n')
print(n)
