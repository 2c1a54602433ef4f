import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';

/** The app's API keys and the users they belong to (a real app would look them up in its database). */
export const API_KEYS: Readonly<Record<string, string>> = {
  key_acme: 'acme',
  key_globex: 'globex',
  key_initech: 'initech',
};

/** The users the app knows, whose Drip customers are resolved at start-up. */
export const USERS = ['acme', 'globex', 'initech'] as const;

/** What the guard puts on `req.user`; `customerId` is what `@drip/nestjs` looks for by default. */
export interface AppUser {
  name: string;
  customerId: string;
}

/** Injection token of the Drip customer id per user name, resolved at start-up. */
export const CUSTOMERS = 'CUSTOMERS';

/**
 * The app's own auth: a guard runs before interceptors, so a missing or unknown `x-api-key` gets a 401
 * before metering and unauthenticated calls are never billed.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(CUSTOMERS) private readonly customers: Readonly<Record<string, string>>) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context
      .switchToHttp()
      .getRequest<{ headers: Record<string, string | string[] | undefined>; user?: AppUser }>();
    const key = req.headers['x-api-key'];
    const name = typeof key === 'string' ? API_KEYS[key] : undefined;
    const customerId = name === undefined ? undefined : this.customers[name];
    if (name === undefined || customerId === undefined) {
      throw new UnauthorizedException({ error: 'unauthorized', message: 'Send a valid x-api-key header.' });
    }
    req.user = { name, customerId };
    return true;
  }
}
