// Owner: h2b (replaced by the account routes).
export const accountRoutes = <></>;
