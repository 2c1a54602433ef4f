import type { DripRequestContext } from '@drip/core';
import { DripInterceptor, DripMeter, DripRun } from '@drip/nestjs';
import { Body, Controller, Get, HttpCode, Param, Post, UseGuards, UseInterceptors } from '@nestjs/common';
import { simulateAgent } from './agent';
import { ApiKeyGuard } from './auth.guard';

/** The "AI agent API": every route is metered to `api_calls` (1 per call) for the caller's customer. */
@Controller('api')
@UseGuards(ApiKeyGuard)
@UseInterceptors(DripInterceptor)
@DripMeter('api_calls')
export class ApiController {
  @Get('items/:id')
  item(@Param('id') id: string): { id: string; name: string } {
    return { id, name: `Item ${id}` };
  }

  @Post('agent')
  @HttpCode(200)
  async agent(@Body() body: { prompt?: unknown } | undefined, @DripRun() drip?: DripRequestContext) {
    const prompt = typeof body?.prompt === 'string' ? body.prompt : '';
    const result = await simulateAgent(prompt);
    drip?.run.event({
      eventType: 'llm.call',
      model: 'gpt-4o-mini',
      inputTokens: result.inputTokens,
      outputTokens: result.outputTokens,
    });
    drip?.run.event({ eventType: 'tool.call', name: 'web-search', duration: result.toolDurationMs });
    drip?.usage('llm_tokens', result.inputTokens + result.outputTokens);
    return {
      answer: result.answer,
      usage: { inputTokens: result.inputTokens, outputTokens: result.outputTokens },
    };
  }

  @Get('fail')
  fail(): never {
    throw new Error('The agent crashed (on purpose).');
  }
}

/** Not metered: no interceptor, no guard. */
@Controller()
export class HealthController {
  @Get('health')
  health(): { status: string } {
    return { status: 'ok' };
  }
}
