import { TextField } from './TextField';

type FieldProps = {
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
};

/** The account fields the log-in, sign-up and password pages share: one label, name and autocomplete each. */
export function UsernameField(props: FieldProps) {
  return <TextField label="Username" required name="username" autoComplete="username" {...props} />;
}

export function EmailField(props: FieldProps) {
  return <TextField label="Email" required type="email" name="email" autoComplete="email" {...props} />;
}

/** `current` for logging in, `new` where a password is chosen (the browser offers to generate one). */
export function PasswordField({
  purpose,
  label = 'Password',
  name = 'password',
  ...props
}: FieldProps & { purpose: 'current' | 'new'; label?: string; name?: string }) {
  return (
    <TextField
      label={label}
      required
      type="password"
      name={name}
      autoComplete={`${purpose}-password`}
      {...props}
    />
  );
}
