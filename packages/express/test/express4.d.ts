// `express4` is the devDependency alias `npm:express@4.22.3`; its API is typed like Express 5's here.
declare module 'express4' {
  import express from 'express';
  export default express;
}
