import { library } from '../../tsdown.base';

// ESM and CommonJS: the Nest example compiles to CommonJS.
export default library();
