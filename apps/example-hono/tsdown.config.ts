import { nodeApp } from '../../tsdown.base';

export default nodeApp(['src/main.ts']);
