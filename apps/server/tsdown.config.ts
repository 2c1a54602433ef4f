import { nodeApp } from '../../tsdown.base';

export default nodeApp(['src/index.ts', 'src/cli.ts'], { dts: true });
