const WebSocket=require('ws');const http=require('http');const fs=require('fs');
const [port,secs,out]=[process.argv[2],+process.argv[3],process.argv[4]];
http.get(`http://127.0.0.1:${port}/json/list`,res=>{let b='';res.on('data',d=>b+=d);res.on('end',()=>{const url=JSON.parse(b)[0].webSocketDebuggerUrl;const ws=new WebSocket(url);let id=0;const pend=new Map();
const send=(method,params={})=>new Promise(r=>{const i=++id;pend.set(i,r);ws.send(JSON.stringify({id:i,method,params}))});
ws.on('message',m=>{const x=JSON.parse(m);if(x.id&&pend.has(x.id)){pend.get(x.id)(x.result);pend.delete(x.id)}});
ws.on('open',async()=>{await send('Profiler.enable');await send('Profiler.setSamplingInterval',{interval:1000});await send('Profiler.start');await new Promise(r=>setTimeout(r,secs*1000));const r=await send('Profiler.stop');fs.writeFileSync(out,JSON.stringify(r.profile));console.log('saved');process.exit(0)});});});
