import * as ai from 'ai6';
import { MockLanguageModelV3 } from 'ai6/test';
import { aiSdkSuite } from './ai-sdk-suite';

aiSdkSuite('AI SDK 6 (LanguageModelV3)', ai, MockLanguageModelV3, 'nested');
