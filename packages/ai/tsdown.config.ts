import { library } from '../../tsdown.base';

export default library();
