import * as ai from 'ai7';
import { MockLanguageModelV4 } from 'ai7/test';
import { aiSdkSuite } from './ai-sdk-suite';

aiSdkSuite('AI SDK 7 (LanguageModelV4)', ai, MockLanguageModelV4, 'nested');
