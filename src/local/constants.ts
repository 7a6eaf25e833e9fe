/** Every local emulator uses this account id, so ARNs from all of them agree (as LocalStack's do). */
export const LOCAL_ACCOUNT_ID = '000000000000';
export const DEFAULT_LOCAL_REGION = 'us-east-1';
export const DEFAULT_LOCAL_HOST = '127.0.0.1';
