import { createOptimizer } from './dist/src/train/optimizer.js';
const sizes=[1792*3584,1792*3584,3584*512,512*1024,512*1024,1024*512,1792,1792,512,512,3584,3584];
const ps=sizes.map((n,i)=>({name:'p'+i,shape:[n],data:new Float32Array(n).fill(0.01)}));
const gs=sizes.map(n=>new Float32Array(n).map(()=>Math.random()-0.5));
const o=createOptimizer('lion',ps,{weightDecay:1e-4});
for(let r=0;r<5;r++){const t=performance.now(); o.step(ps,gs,1e-4); console.log('lion step ms',(performance.now()-t).toFixed(0));}
const total=sizes.reduce((a,b)=>a+b); console.log('params',total);
