// Runs once when the server starts: resolve the users' Drip customers before the first request.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs' || !process.env.DRIP_API_KEY) return;
  const { customers } = await import('./lib/auth');
  try {
    console.log(`customers: ${JSON.stringify(await customers())}`);
  } catch (error) {
    // The first request retries; the app still starts.
    console.error('Could not resolve the Drip customers at start-up:', error);
  }
}
