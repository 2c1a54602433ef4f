import { meterModel } from '@drip/ai';
import type { RequestMeter } from '@drip/core';
import { type AgentResult, fakeModel, runAgent } from '@drip/example-agent';
import { DRIP_REQUEST_METER, DripInterceptor, DripMeter } from '@drip/nestjs';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  UseGuards,
  UseInterceptors,
} from '@nestjs/common';
import { ApiKeyGuard } from './auth.guard';

/** The "AI agent API": every route is metered to `api_calls` (1 per call) for the caller's customer. */
@Controller('api')
@UseGuards(ApiKeyGuard)
@UseInterceptors(DripInterceptor)
@DripMeter('api_calls')
export class ApiController {
  /**
   * The agent's model, metered by @drip/ai: each model call (the search step, then the answer) adds an
   * llm.call event to the request's run and bills its tokens (llm_tokens) to the request's customer,
   * through the module's outbox, with the request's own records.
   */
  private readonly model: ReturnType<typeof fakeModel>;

  constructor(@Inject(DRIP_REQUEST_METER) meter: RequestMeter) {
    this.model = meterModel(fakeModel(), { outbox: meter.outbox });
  }

  @Get('items/:id')
  item(@Param('id') id: string): { id: string; name: string } {
    return { id, name: `Item ${id}` };
  }

  @Post('agent')
  @HttpCode(200)
  async agent(@Body() body: { prompt?: unknown } | undefined): Promise<Omit<AgentResult, 'steps'>> {
    const prompt = typeof body?.prompt === 'string' ? body.prompt : '';
    const { answer, usage } = await runAgent(this.model, prompt);
    return { answer, usage };
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
