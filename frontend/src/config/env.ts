// The only place that reads the build environment. The API lives on the same
// origin as the app (Django serves both), so the default base is empty.
export const env = {
  apiBaseUrl: (import.meta.env.VITE_API_BASE_URL as string | undefined) ?? '',
} as const;
