function lion(p,g,m,lr,wd,b1,b2){
  const decayMul=1-lr*wd, c1=1-b1, c2=1-b2, n=p.length;
  for(let j=0;j<n;j++){
    const gj=g[j], mj=m[j];
    const c=b1*mj+c1*gj;
    p[j]=p[j]*decayMul-(c>0?lr:c<0?-lr:0);
    m[j]=b2*mj+c2*gj;
  }
}
function lionSign(p,g,m,lr,wd,b1,b2){
  const decayMul=1-lr*wd;
  for(let j=0;j<p.length;j++){
    const c=b1*m[j]+(1-b1)*g[j];
    p[j]=p[j]*decayMul-lr*Math.sign(c);
    m[j]=b2*m[j]+(1-b2)*g[j];
  }
}
const n=16264704;
const p=new Float32Array(n).fill(0.01), g=new Float32Array(n).map(()=>Math.random()-0.5), m=new Float32Array(n);
for(const f of [lion,lionSign,lion,lionSign]){const t=performance.now(); f(p,g,m,1e-4,1e-4,0.9,0.99); console.log(f.name,(performance.now()-t).toFixed(0),'ms');}
