const n=16264704;
const p=new Float32Array(n).fill(0.01), g=new Float32Array(n).fill(0.3);
function scale(p){ for(let j=0;j<p.length;j++) p[j]=p[j]*0.999; }
function add(p,g){ for(let j=0;j<p.length;j++) p[j]+=g[j]*1e-3; }
for(let r=0;r<3;r++){ let t=performance.now(); scale(p); console.log('scale',(performance.now()-t).toFixed(0)); t=performance.now(); add(p,g); console.log('add',(performance.now()-t).toFixed(0)); }
const s=new Float32Array(4096*4096); let t=performance.now(); for(let j=0;j<s.length;j++) s[j]=j; console.log('fill',(performance.now()-t).toFixed(0));
