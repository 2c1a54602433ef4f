import { library } from '../../tsdown.base';

export default library(['src/index.ts', 'src/node.ts']);
