import { Route } from 'react-router-dom';
import { AccountPage } from './AccountPage';
import { CheckEmailPage } from './CheckEmailPage';
import { ForgotPasswordPage, ResetPasswordPage } from './PasswordResetPages';
import { SignInPage } from './SignInPage';
import { SignUpPage } from './SignUpPage';
import { VerifyEmailPage } from './VerifyEmailPage';

/** The account pages (STOREFRONT.md routes; `/verify-email` and `/reset-password` are the emailed links). */
export const accountRoutes = (
  <>
    <Route path="/sign-up" element={<SignUpPage />} />
    <Route path="/check-email" element={<CheckEmailPage />} />
    <Route path="/verify-email" element={<VerifyEmailPage />} />
    <Route path="/sign-in" element={<SignInPage />} />
    <Route path="/forgot-password" element={<ForgotPasswordPage />} />
    <Route path="/reset-password" element={<ResetPasswordPage />} />
    <Route path="/account" element={<AccountPage />} />
  </>
);
