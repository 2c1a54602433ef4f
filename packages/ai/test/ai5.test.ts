import * as ai from 'ai5';
import { MockLanguageModelV2 } from 'ai5/test';
import { aiSdkSuite } from './ai-sdk-suite';

aiSdkSuite('AI SDK 5 (LanguageModelV2)', ai, MockLanguageModelV2, 'flat');
