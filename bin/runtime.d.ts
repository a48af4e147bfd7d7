export declare const MIN_NODE: [number, number];
export declare function nodeVersionProblem(version?: string): string | undefined;
export declare const V8_FLAGS: string[];
export declare const MALLOC_ENV: Record<string, string>;
export declare function acceptedFor(flag: string): string[];
export declare function givenV8Flags(execArgv?: string[], nodeOptions?: string): string[];
export declare function missingV8Flags(execArgv?: string[], nodeOptions?: string): string[];
export declare function reexecWithV8Flags(script: string, args: string[]): boolean;
export declare function addedV8Flags(): string;
