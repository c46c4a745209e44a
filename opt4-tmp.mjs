const n=4*1024*1024;
const p=new Float32Array(n).fill(0.01), g=new Float32Array(n).map(()=>Math.random()-0.5), m=new Float32Array(n);
function a(p,g,m,lr,dm,b1,b2){ for(let j=0;j<p.length;j++){ const c=b1*m[j]+(1-b1)*g[j]; p[j]=p[j]*dm-lr*Math.sign(c); m[j]=b2*m[j]+(1-b2)*g[j]; } }
function b(p,g,m,lr,dm,b1,b2){ const n=p.length, c1=1-b1, c2=1-b2; for(let j=0;j<n;j++){ const gj=g[j], mj=m[j]; const c=b1*mj+c1*gj; p[j]=p[j]*dm-(c>0?lr:(c<0?-lr:0)); m[j]=b2*mj+c2*gj; } }
function c(p,g,m,lr,dm,b1,b2){ const n=p.length, c1=1-b1, c2=1-b2; for(let j=0;j<n;j++){ const gj=g[j], mj=m[j]; p[j]=p[j]*dm; m[j]=b2*mj+c2*gj; } }
function d(p){ let s=0; for(let j=0;j<p.length;j++) s+=p[j]; return s; }
for (let r=0;r<3;r++) for (const f of [a,b,c,d]) { const t=performance.now(); f(p,g,m,1e-4,0.9999,0.9,0.99); console.log(f.name, ((performance.now()-t)*1e6/n).toFixed(2),'ns/elem'); }
